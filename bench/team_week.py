"""How long a manager waits for the team's history: a week of a team of 50 (``GET /api/v1/team/days``, 7 days)
and one team day with every member's minute timeline (``GET /api/v1/team/days/{day}``), on SQLite holding 30
days of minutes for all 50. Prints figures; not a test (the goal, the week under 100 ms, is in
docs/server.md's "History" figures).

The database is seeded directly (the schema by the server's own migrations, the team and devices through
SQLAlchemy, the minutes by one ``executemany``), since 50 × 30 working days of minutes over HTTP would take
longer than the measurement. Half the team works in Berlin, half in New York, 08:00–17:00 local with a lunch
break and some idle minutes, so days are cut in two zones. Then a real ``staffpulse-server serve`` answers: the
first request of each kind is shown on its own ("cold": the week's days are summed from the minutes and kept in
``user_days``, ``server.days``), then the p50 / p95 / max of ``--runs`` more, and the server's CPU time per
request (on a shared machine the wall time includes waiting for a core). Last, the realistic case: the current
week (ending today) while uploads for today keep arriving through the real API (``Uploader``: a batch of one new
minute for each of a few members every few hundred ms), so today's days keep going stale as in working hours;
its requests come 0.3 s apart, so they span several of the summariser's passes (``server.summariser``), and
its server CPU per request includes storing the uploads and summing the days they changed.
Each line ends with the load average, as other work on a shared machine moves the figures.

    .venv/bin/python -m bench.team_week [--runs 30] [--members 50] [--days 30] [--keep DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sqlite3
import statistics
import tempfile
import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psutil
import requests
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from protocol.schema import Role
from server import security
from server.migrate import run_in_session
from server.models import Device, Team, User
from tests.support.servers import ServerProcess

ZONES = ("Europe/Berlin", "America/New_York")
#: How SQLAlchemy stores a ``DateTime`` on SQLite (naive UTC, ``server.models.UtcDateTime``): the seeded minutes
#: must compare as the server's own would.
SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"


async def _seed_team(session: AsyncSession, now: datetime, members: int, days: int) -> list[str]:
    """A team of ``members`` (the first its manager), one device each, enrolled before the first seeded day;
    the devices' tokens, the manager's first."""
    session.add(Team(name="Bench", created_at=now))
    await session.flush()
    team_id = await session.scalar(select(Team.id).where(Team.name == "Bench"))
    await session.execute(insert(User), [
        {"team_id": team_id, "name": f"Member {i:02d}", "login": f"m{i}@bench.example",
         "role": Role.MANAGER if i == 0 else Role.MEMBER, "time_zone": ZONES[i % len(ZONES)], "created_at": now}
        for i in range(members)])
    tokens = [security.new_token() for _ in range(members)]
    users = (await session.scalars(select(User.id).where(User.team_id == team_id).order_by(User.id))).all()
    enrolled = now - timedelta(days=days + 2)
    await session.execute(insert(Device), [
        {"user_id": uid, "name": f"pc-{uid}", "platform": "linux", "agent_version": "bench",
         "token_hash": security.digest(token), "created_at": enrolled, "announced_at": enrolled}
        for uid, token in zip(users, tokens, strict=True)])
    return tokens


def _workday(zone: str, day: date, rnd: random.Random) -> list[tuple[datetime, tuple[int, ...]]]:
    """08:00–17:00 local: mostly active, an hour's lunch break from 12:00, idle now and then."""
    start = datetime.combine(day, clock(8), ZoneInfo(zone)).astimezone(UTC)
    minutes = []
    for k in range(9 * 60):
        if 240 <= k < 300:
            seconds = (60, 0, 0, 60, 0)  # tracked, active, idle, break, input
        elif rnd.random() < 0.1:
            seconds = (60, 0, 60, 0, 0)
        else:
            active = rnd.randint(30, 60)
            seconds = (60, active, 60 - active, 0, rnd.randint(0, active))
        counts = (rnd.randint(0, 200), rnd.randint(0, 20), rnd.randint(0, 30), rnd.randint(0, 5000))
        minutes.append((start + timedelta(minutes=k), seconds + counts))
    return minutes


def seed(path: Path, members: int, days: int, today: date) -> tuple[list[str], int]:
    """The database at ``path`` with ``days`` working days before ``today`` for every member; the devices'
    tokens (the manager's first) and the minutes written."""
    url = f"sqlite:///{path}"
    tokens = asyncio.run(run_in_session(url, lambda s, now: _seed_team(s, now, members, days)))
    rnd = random.Random(15)
    with sqlite3.connect(path) as db:
        devices = db.execute("SELECT devices.id, users.id, users.time_zone FROM devices JOIN users "
                             "ON users.id = devices.user_id ORDER BY users.id").fetchall()
        rows: list[tuple[Any, ...]] = []
        for device_id, user_id, zone in devices:
            for back in range(days, 0, -1):
                for start, numbers in _workday(zone, today - timedelta(days=back), rnd):
                    rows.append((device_id, start.replace(tzinfo=None).strftime(SQLITE_TIME), user_id, *numbers))
        db.executemany("INSERT INTO activity_slots (device_id, start, user_id, tracked_s, active_s, idle_s, break_s,"
                       " input_s, keys, clicks, scrolls, mouse_px) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    return tokens, len(rows)


class Uploader(threading.Thread):
    """Every ``pause_s``, one batch of one new minute for each of the next ``per_round`` members (round robin),
    posted to ``/api/v1/activity`` as agents post them: each member's minutes go on from ``first`` a minute at a
    time, never past now, so today's days keep going stale."""

    def __init__(self, url: str, tokens: list[str], first: datetime, *, per_round: int = 5,
                 pause_s: float = 0.3) -> None:
        super().__init__(name="uploader", daemon=True)
        self.url, self.tokens, self.per_round, self.pause_s = url, tokens, per_round, pause_s
        self.next = [first] * len(tokens)
        self.posted = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        member = 0
        with requests.Session() as session:
            while not self.stopping.wait(self.pause_s):
                for _ in range(self.per_round):
                    minute, self.next[member] = self.next[member], self.next[member] + timedelta(minutes=1)
                    if minute < datetime.now(UTC) - timedelta(minutes=1):
                        slot = {"start": minute.strftime("%Y-%m-%dT%H:%M:%SZ"), "tracked_s": 60, "active_s": 50,
                                "idle_s": 10, "break_s": 0, "input_s": 40, "keys": 90, "clicks": 9, "scrolls": 3,
                                "mouse_px": 2000}
                        session.post(f"{self.url}/api/v1/activity", timeout=60,
                                     headers={"Authorization": f"Bearer {self.tokens[member]}"},
                                     json={"batch_id": str(uuid.uuid4()), "slots": [slot]}).raise_for_status()
                        self.posted += 1
                    member = (member + 1) % len(self.tokens)

    def stop(self) -> None:
        self.stopping.set()
        self.join()


def timed(session: requests.Session, url: str, token: str) -> tuple[float, Any]:
    started = time.perf_counter()
    answer = session.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
    elapsed = (time.perf_counter() - started) * 1000
    answer.raise_for_status()
    return elapsed, answer.json()


def measure(session: requests.Session, server: psutil.Process, label: str, url: str, token: str, runs: int, *,
            pause_s: float = 0.0) -> Any:
    """Wall times as the manager waits, and the server's own CPU time per warm request: on a shared machine the
    wall time includes waiting for a core, the CPU time does not. ``pause_s`` between requests spreads them
    over the server's background work (uploads, the summariser's passes)."""
    cold, body = timed(session, url, token)
    before = sum(server.cpu_times()[:2])
    warm = []
    for _ in range(runs):
        time.sleep(pause_s)
        warm.append(timed(session, url, token)[0])
    warm.sort()
    cpu = (sum(server.cpu_times()[:2]) - before) * 1000 / runs
    p95 = warm[min(len(warm) - 1, round(0.95 * (len(warm) - 1)))]
    load = os.getloadavg()[0]
    print(f"{label:<40} cold {cold:7.1f} ms   warm p50 {statistics.median(warm):6.1f}  p95 {p95:6.1f}  "
          f"max {warm[-1]:6.1f} ms  server CPU {cpu:5.1f} ms/request  ({runs} runs, load {load:.1f})")
    return body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--members", type=int, default=50)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--keep", type=Path, help="seed (and keep) the database in this folder")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="team-week-"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "bench.db"
    path.unlink(missing_ok=True)
    today = datetime.now(UTC).date()
    started = time.perf_counter()
    tokens, written = seed(path, args.members, args.days, today)
    token = tokens[0]
    print(f"seeded {args.members} members x {args.days} days: {written:,} minutes in "
          f"{time.perf_counter() - started:.1f} s ({path})")
    # The default sweeps (not the tests' fast ones, whose CPU would count in the figures); a window long enough
    # that the retention pass at start keeps the oldest seeded day.
    server = ServerProcess(f"sqlite:///{path}", folder / "server.log", "--retention-days", str(args.days + 5)).start()
    try:
        assert server.proc is not None
        process = psutil.Process(server.proc.pid)
        with requests.Session() as session:
            end = today - timedelta(days=1)
            week = measure(session, process, f"team week (7 days, {args.members} members)",
                           f"{server.url}/api/v1/team/days?start={end - timedelta(days=6)}&end={end}", token,
                           args.runs)
            day = measure(session, process, "team day with timelines", f"{server.url}/api/v1/team/days/{end}", token,
                          args.runs)
            # Today's minutes from eight hours ago on: each member stays well behind now for the whole run.
            uploader = Uploader(server.url, tokens, datetime.now(UTC).replace(second=0, microsecond=0)
                                - timedelta(hours=8))
            uploader.start()
            try:
                # Working hours: every member has uploaded today before the manager looks.
                while uploader.posted < len(tokens) and uploader.is_alive():
                    time.sleep(0.05)
                current = measure(session, process, "current week under uploads",
                                  f"{server.url}/api/v1/team/days?start={today - timedelta(days=6)}&end={today}",
                                  token, args.runs, pause_s=0.3)
            finally:
                uploader.stop()
    finally:
        server.stop()
    active = sum(d["totals"]["active_s"] for m in week["members"] for d in m["days"])
    assert active > 0 and len(week["members"]) == args.members, "the week came back empty: the seed is wrong"
    assert all(len(m["timeline"] or "") >= 1380 for m in day["members"])
    uploaded = sum(d["totals"]["active_s"] for m in current["members"] for d in m["days"] if d["date"] == str(today))
    assert uploader.posted and uploaded > 0, "the uploads never reached the current week"
    print(f"the week holds {active / 3600:,.0f} active hours; the day {len(day['members'])} timelines; "
          f"{uploader.posted} uploads during the current week's runs")


if __name__ == "__main__":
    main()
