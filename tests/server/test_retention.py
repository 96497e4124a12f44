"""The retention pass (``server.retention``): what is past the window is deleted, whole old days of a team that
keeps day totals are folded into ``user_days`` first with the same totals the minutes gave, in each member's zone,
and a large backlog goes in bounded chunks while uploads are stored.

The pass runs in process with an injected clock against a fresh database (SQLite and PostgreSQL), and in the
background of a real server process.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import subprocess
import sys
import threading
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, closing
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from protocol.schema import ActivityBatch, Retention
from server.auth import Principal
from server.config import Settings
from server.days import member_day, touch
from server.db import make_engine, make_sessionmaker
from server.ingest import Ingest
from server.migrate import run_in_session, upgrade
from server.models import ActivitySlot, Batch, Device, EnrollmentCode, RosterChange, Team, User, UserDay
from server.retention import ROSTER_KEPT, Report, RetentionSweeper, cutoff, retention
from server.totals import day_bounds, day_totals, local_date, merged_minutes, summed
from support.servers import PostgresCluster, ServerProcess
from support.team import slot
from support.waiting import poll, wait_on

NOW = datetime(2025, 12, 1, 12, 0, tzinfo=UTC)
SETTINGS = Settings(database_url="unused", retention_days=30)
CUTOFF = cutoff(NOW, SETTINGS)  # 2025-11-01 12:00 UTC
#: Zones far apart: Berlin falls back on 2025-10-26 (a 25-hour day); Kiritimati is UTC+14, Pago Pago UTC-11.
ZONES = ("Europe/Berlin", "Pacific/Kiritimati", "Pacific/Pago_Pago")
MINUTE = timedelta(minutes=1)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database of this test's own: a pass deletes across all teams, so tests must not share one."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'server.db'}"
    cluster: PostgresCluster = request.getfixturevalue("postgres")
    return cluster.create_database(f"r_{uuid.uuid4().hex[:12]}")


@asynccontextmanager
async def database(url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(url)
    try:
        await upgrade(engine)
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()


@dataclass
class Member:
    user_id: int
    team_id: int
    zone: str
    devices: list[int]


async def add_team(session: AsyncSession, *, keeps: bool, zones: tuple[str, ...], devices: int = 1) -> list[Member]:
    team = Team(name=f"t-{uuid.uuid4().hex[:8]}", keep_day_totals=keeps, created_at=NOW - timedelta(days=3650))
    session.add(team)
    await session.flush()
    members = []
    for zone in zones:
        user = User(team_id=team.id, name=zone, login=f"{uuid.uuid4().hex[:8]}@x.example", role="member",
                    time_zone=zone, created_at=team.created_at)
        session.add(user)
        await session.flush()
        ids = []
        for _ in range(devices):
            device = Device(user_id=user.id, name="pc", platform="linux", agent_version="t",
                            token_hash=uuid.uuid4().hex, created_at=team.created_at)
            session.add(device)
            await session.flush()
            ids.append(device.id)
        members.append(Member(user.id, team.id, zone, ids))
    return members


def minute_rows(member: Member, starts: list[datetime], seed: int) -> list[dict[str, Any]]:
    """Minutes of every device of ``member`` at ``starts`` (a device skips some), with random seconds and counts."""
    rng = random.Random(seed)
    rows = []
    for device_id in member.devices:
        for start in starts:
            if rng.random() < 0.2:
                continue
            active = rng.randint(0, 60)
            pause = rng.choice((0, 0, 60 - active))
            idle = rng.randint(0, 60 - active - pause)
            rows.append({"device_id": device_id, "user_id": member.user_id, "start": start,
                         "tracked_s": active + idle + pause, "active_s": active, "idle_s": idle, "break_s": pause,
                         "input_s": rng.randint(0, active), "keys": rng.randint(0, 99), "clicks": rng.randint(0, 9),
                         "scrolls": rng.randint(0, 9), "mouse_px": rng.randint(0, 9999)})
    return rows


def every(start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    return [start + k * step for k in range(int((end - start) / step))]


async def count(sessions: async_sessionmaker[AsyncSession], *where: Any, table: Any = ActivitySlot) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(table).where(*where)) or 0)


async def starts_of(sessions: async_sessionmaker[AsyncSession], user_id: int) -> list[datetime]:
    async with sessions() as session:
        return list(await session.scalars(select(ActivitySlot.start).where(ActivitySlot.user_id == user_id)
                                          .order_by(ActivitySlot.start).distinct()))


def sweeper(sessions: async_sessionmaker[AsyncSession], **settings: Any) -> RetentionSweeper:
    return RetentionSweeper(Settings(database_url="unused", retention_days=30, **settings), sessions, lambda: NOW)


def test_a_pass_deletes_what_is_past_the_window_and_keeps_the_minute_at_the_cutoff(fresh_url: str) -> None:
    """A team that keeps no day totals: minutes, batch ids and codes from before the cutoff go, the minute that
    begins exactly at it stays (ingest accepts it), and so does everything newer; day totals left from when the
    team kept them go for days before the cutoff's day, and the cutoff's day's too, since some of its minutes
    went (a reader sums the rest again)."""
    async def run() -> None:
        async with database(fresh_url) as sessions:
            async with sessions() as session:
                [member] = await add_team(session, keeps=False, zones=("UTC",))
                starts = [CUTOFF - timedelta(days=10), CUTOFF - 2 * MINUTE, CUTOFF - MINUTE, CUTOFF, CUTOFF + MINUTE]
                await session.execute(insert(ActivitySlot), minute_rows(member, starts, seed=1))
                device = member.devices[0]
                await session.execute(insert(Batch), [
                    {"device_id": device, "batch_id": name, "digest": "d", "accepted": 1, "duplicates": 0,
                     "received_at": at} for name, at in (("old", CUTOFF - timedelta(seconds=1)), ("kept", CUTOFF))])
                await session.execute(insert(EnrollmentCode), [
                    {"user_id": member.user_id, "code_hash": name, "expires_at": expires, "used_at": used}
                    for name, expires, used in (("used", CUTOFF - MINUTE, CUTOFF - timedelta(days=2)),
                                                ("expired", CUTOFF - MINUTE, None), ("live", CUTOFF, None))])
                await session.execute(insert(UserDay), [
                    {"user_id": member.user_id, "day": day, "time_zone": "UTC", "tracked_s": 60, "active_s": 60,
                     "idle_s": 0, "break_s": 0, "input_s": 60, "keys": 1, "clicks": 1, "scrolls": 1, "mouse_px": 1,
                     "activity_pct": 100.0, "first_activity": None, "last_activity": None, "hours": "[]"}
                    for day in (CUTOFF.date() - timedelta(days=1), CUTOFF.date())])
                await session.commit()
            before = await starts_of(sessions, member.user_id)
            report = await sweeper(sessions).run()
            assert await starts_of(sessions, member.user_id) == [s for s in before if s >= CUTOFF]
            assert CUTOFF in before and CUTOFF - MINUTE in before, "the seed holds both sides of the boundary"
            assert report.minutes == sum(1 for s in before if s < CUTOFF)
            async with sessions() as session:
                assert list(await session.scalars(select(Batch.batch_id))) == ["kept"]
                assert list(await session.scalars(select(EnrollmentCode.code_hash))) == ["live"]
                assert list(await session.scalars(select(UserDay.day))) == []
            assert (report.batches, report.codes, report.day_totals, report.folded_days) == (1, 2, 2, 0)
            again = await sweeper(sessions).run()
            assert (again.minutes, again.batches, again.codes, again.day_totals) == (0, 0, 0, 0)

    asyncio.run(run())


async def seed_zones(sessions: async_sessionmaker[AsyncSession]) -> list[Member]:
    """A team keeping day totals, one member per zone of ``ZONES`` with two devices, minutes every 7 minutes
    from 2025-10-24 00:00 UTC to two hours past the cutoff."""
    async with sessions() as session:
        members = await add_team(session, keeps=True, zones=ZONES, devices=2)
        starts = every(datetime(2025, 10, 24, tzinfo=UTC), CUTOFF + timedelta(hours=2), 7 * MINUTE)
        for seed, member in enumerate(members):
            await session.execute(insert(ActivitySlot), minute_rows(member, starts, seed=seed))
        await session.commit()
    return members


@dataclass
class Expected:
    """One member's folded days as the minutes gave them before the pass."""

    totals: dict[date, Any]
    hours: dict[date, list[tuple[datetime, int, int, int, int]]]
    first_last: dict[date, tuple[datetime, datetime]]
    kept: list[datetime]  # the minutes' starts the pass must leave


async def expected(sessions: async_sessionmaker[AsyncSession], member: Member) -> Expected:
    """The oracle, from the same merge the live views use (``server.totals``): each whole local day before the
    cutoff's day summed, each of its local hours summed on its own window, its first and last active minute."""
    kept_day = local_date(CUTOFF, member.zone)
    keep_from = day_bounds(kept_day, member.zone)[0]
    starts = await starts_of(sessions, member.user_id)
    days = sorted({local_date(s, member.zone) for s in starts if s < keep_from})
    result = Expected({}, {}, {}, [s for s in starts if s >= keep_from])
    async with sessions() as session:
        found = await day_totals(session, {(member.user_id, day): (member.team_id, member.zone) for day in days})
        for day in days:
            result.totals[day] = found[(member.user_id, day)]
            lo, hi = day_bounds(day, member.zone)
            hours = []
            for start in every(lo, hi, timedelta(hours=1)):
                t = (await summed(session, {member.user_id: (start, start + timedelta(hours=1))}))[member.user_id]
                hours.append((start, t.active_s, t.idle_s, t.break_s, t.input_s))
            result.hours[day] = hours
            active = [m.start for m in await merged_minutes(session, member.user_id, (lo, hi)) if m.active_s]
            result.first_last[day] = (active[0], active[-1] + MINUTE)
    return result


async def folded(sessions: async_sessionmaker[AsyncSession], member: Member) -> dict[date, Any]:
    async with sessions() as session:
        rows = await session.scalars(select(UserDay).where(UserDay.user_id == member.user_id))
        return {row.day: member_day(row, member.zone) for row in rows}


async def check_folded(sessions: async_sessionmaker[AsyncSession], member: Member, want: Expected) -> None:
    days = await folded(sessions, member)
    assert sorted(days) == sorted(want.totals), member.zone
    for day, got in days.items():
        assert got.totals == want.totals[day], (member.zone, day)
        assert [(h.start, h.active_s, h.idle_s, h.break_s, h.input_s) for h in got.hours] == want.hours[day]
        assert (got.first_activity, got.last_activity) == want.first_last[day]
        assert (got.time_zone, got.timeline) == (member.zone, None)
    assert await starts_of(sessions, member.user_id) == want.kept, member.zone


def test_announced_roster_changes_go_a_day_after_their_announcement(fresh_url: str) -> None:
    """Issue 15 review, item 3: ``roster_changes`` rows (a name and a role) were kept forever. A row announced
    more than a day ago goes, whatever the window; one announced since, and one not announced yet (no server ran
    its announce pass), stay."""
    async def run() -> None:
        async with database(fresh_url) as sessions:
            async with sessions() as session:
                [member] = await add_team(session, keeps=False, zones=("UTC",))
                for announced in (NOW - ROSTER_KEPT - MINUTE, NOW - ROSTER_KEPT + MINUTE, None):
                    session.add(RosterChange(team_id=member.team_id, user_id=member.user_id, change="renamed",
                                             name="N", role="member", at=NOW - timedelta(days=2),
                                             announced_at=announced))
                await session.commit()
            report = await sweeper(sessions).run()
            assert report.roster_changes == 1
            async with sessions() as session:
                left = list(await session.scalars(select(RosterChange.announced_at).order_by(RosterChange.id)))
            assert left == [NOW - ROSTER_KEPT + MINUTE, None]

    asyncio.run(run())


def test_whole_old_days_are_folded_into_day_totals_before_their_minutes_go(fresh_url: str) -> None:
    """A team that keeps day totals: each whole local day before the cutoff's day (cut in the member's zone: a
    25-hour DST day in Berlin, UTC+14 and UTC-11) is folded with exactly the totals, hours and first and last
    activity its minutes gave, then its minutes go; the cutoff's own local day keeps its minutes, older ones
    too, whether the day had no row yet or a stale one (minutes arrived since it was summed). A second pass
    changes nothing; once the team stops keeping totals, the next pass leaves none."""
    async def run() -> None:
        async with database(fresh_url) as sessions:
            members = await seed_zones(sessions)
            wanted = {m.user_id: await expected(sessions, m) for m in members}
            berlin = wanted[members[0].user_id]
            assert len(berlin.hours[date(2025, 10, 26)]) == 25, "the seed covers Berlin's DST day"
            async with sessions() as session:  # two days each with a stale row, as ingest leaves it: updated
                await touch(session, [(m.user_id, day, m.zone) for m in members for day in sorted(
                    wanted[m.user_id].totals)[:2]])
                await session.commit()
            report = await sweeper(sessions).run()
            for member in members:
                await check_folded(sessions, member, wanted[member.user_id])
                assert wanted[member.user_id].kept[0] < CUTOFF, "minutes of the cutoff's day before it are kept"
            assert report.folded_days == sum(len(w.totals) for w in wanted.values())
            again = await sweeper(sessions).run()
            assert (again.folded_days, again.minutes) == (0, 0)
            for member in members:
                await check_folded(sessions, member, wanted[member.user_id])

            async with sessions() as session:
                team = await session.get(Team, members[0].team_id)
                assert team is not None
                assert retention(team, SETTINGS) == Retention(minutes_days=30, keeps_day_totals=True)
                await session.execute(update(Team).where(Team.id == team.id).values(keep_day_totals=False))
                await session.commit()
            stopped = await sweeper(sessions).run()
            assert stopped.day_totals == report.folded_days
            assert await count(sessions, table=UserDay) == 0
            for member in members:
                assert await starts_of(sessions, member.user_id) == [
                    s for s in wanted[member.user_id].kept if s >= CUTOFF]

    asyncio.run(run())


def test_two_passes_at_once_fold_and_delete_each_day_once(fresh_url: str) -> None:
    """Two server processes on one database (a cluster) running a pass at the same moment: neither fails, each
    row is deleted and counted once between them, and each day's totals are those of all its minutes."""
    async def run() -> None:
        async with database(fresh_url) as sessions, database(fresh_url) as other:
            members = await seed_zones(sessions)
            wanted = {m.user_id: await expected(sessions, m) for m in members}
            old = await count(sessions)
            reports: list[Report] = list(await asyncio.gather(sweeper(sessions, retention_chunk_rows=200).run(),
                                                              sweeper(other, retention_chunk_rows=200).run()))
            for member in members:
                await check_folded(sessions, member, wanted[member.user_id])
            assert sum(r.folded_days for r in reports) == sum(len(w.totals) for w in wanted.values())
            assert sum(r.minutes for r in reports) == old - await count(sessions)

    asyncio.run(run())


def test_a_large_backlog_goes_in_bounded_chunks_while_an_upload_is_stored(fresh_url: str) -> None:
    """20,000 old minutes in chunks of 500: the pass takes at least 40 chunks, and an upload made while it runs
    is stored and answered before the pass ends (the pass rests between chunks, so writers get in)."""
    async def run() -> None:
        async with database(fresh_url) as sessions:
            async with sessions() as session:
                [member] = await add_team(session, keeps=False, zones=("UTC",))
                backlog = every(CUTOFF - timedelta(minutes=20_000), CUTOFF, MINUTE)
                await session.execute(insert(ActivitySlot), [
                    {"device_id": member.devices[0], "user_id": member.user_id, "start": start, "tracked_s": 60,
                     "active_s": 60, "idle_s": 0, "break_s": 0, "input_s": 30, "keys": 1, "clicks": 0, "scrolls": 0,
                     "mouse_px": 0} for start in backlog])
                await session.commit()
                device, user = await session.get(Device, member.devices[0]), await session.get(User, member.user_id)
                assert device is not None and user is not None
            task = asyncio.create_task(sweeper(sessions, retention_chunk_rows=500).run())
            async def first_chunk_committed() -> bool:
                return await count(sessions) < len(backlog)

            assert await poll(first_chunk_committed, timeout=60), "the pass deleted nothing"
            batch = ActivityBatch.model_validate({"batch_id": str(uuid.uuid4()),
                                                  "slots": [slot(NOW - timedelta(minutes=5))]})
            answer, _days = await Ingest(sessions).store(Principal(device, user), batch, now=NOW, settings=SETTINGS)
            assert answer.accepted == 1
            assert not task.done(), "the upload was stored while the pass was still deleting"
            report = await task
            assert report.minutes == len(backlog)
            assert report.chunks >= len(backlog) // 500
            assert await starts_of(sessions, member.user_id) == [NOW - timedelta(minutes=5)]
            print(f"\nchunk of 500 rows held the database at most {report.longest_chunk_s * 1000:.1f} ms")

    asyncio.run(run())


def test_the_sweeper_runs_a_pass_at_start_and_then_every_interval(tmp_path: Path) -> None:
    """Started as the app's lifespan starts it: old minutes there at start go, and so do old minutes written
    after the first pass; ``stop`` cancels it."""
    async def run() -> None:
        async with database(f"sqlite+aiosqlite:///{tmp_path / 'server.db'}") as sessions:
            async with sessions() as session:
                [member] = await add_team(session, keeps=False, zones=("UTC",))
                await session.execute(insert(ActivitySlot), minute_rows(member, [CUTOFF - MINUTE], seed=2))
                await session.commit()
            background = sweeper(sessions, retention_interval_s=0.05)

            async def all_gone() -> bool:
                return await count(sessions) == 0

            background.start()
            try:
                assert await poll(all_gone, timeout=30), "the pass at start left the old minute"
                async with sessions() as session:
                    await session.execute(insert(ActivitySlot), minute_rows(member, [CUTOFF - 2 * MINUTE], seed=2))
                    await session.commit()
                assert await poll(all_gone, timeout=30), "no later pass deleted the minute written after the first"
            finally:
                await background.stop()

    asyncio.run(asyncio.wait_for(run(), timeout=60))


# --- in the background of a real server -----------------------------------------------------------------------


def test_a_real_server_deletes_past_minutes_at_start_and_folds_a_team_set_to_keep_day_totals(tmp_path: Path) -> None:
    """A database holding minutes past the 30-day window for two teams, one set to keep day totals with the
    real CLI (``teams set NAME --keep-day-totals yes``): once the server has started, both members' old minutes
    are gone, the keeping member's days are day totals with every active second, the other has none, and the
    pass logged one line."""
    path = tmp_path / "server.db"
    url = f"sqlite:///{path}"
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    old = every(now - timedelta(days=34), now - timedelta(days=31), timedelta(hours=1))

    async def seed(session: AsyncSession, _now: datetime) -> list[Member]:
        members = [*await add_team(session, keeps=False, zones=("UTC",)),
                   *await add_team(session, keeps=False, zones=("Pacific/Kiritimati",))]
        for member in members:
            await session.execute(insert(ActivitySlot), [
                {"device_id": member.devices[0], "user_id": member.user_id, "start": start, "tracked_s": 60,
                 "active_s": 45, "idle_s": 15, "break_s": 0, "input_s": 40, "keys": 3, "clicks": 1, "scrolls": 0,
                 "mouse_px": 10} for start in old])
        return members

    plain, keeper = asyncio.run(run_in_session(url, seed))
    with closing(sqlite3.connect(path)) as db:
        (team,) = db.execute("SELECT name FROM teams WHERE id = ?", (keeper.team_id,)).fetchone()
    cli = subprocess.run([sys.executable, "-m", "server.cli", "teams", "set", team, "--keep-day-totals", "yes",
                          "--database-url", url, "--json"], capture_output=True, text=True, timeout=60)
    assert cli.returncode == 0, cli.stderr
    assert '"keep_day_totals": true' in cli.stdout

    def remaining() -> int:
        return rows(path, "SELECT count(*) FROM activity_slots")

    server = ServerProcess(url, tmp_path / "server.log", "--retention-days", "30", "--log-level", "info").start()
    try:
        assert wait_on(threading.Condition(), lambda: remaining() == 0, timeout=30), f"see {server.log_path}"
    finally:
        server.stop()
    assert rows(path, "SELECT sum(active_s) FROM user_days WHERE user_id = ?", keeper.user_id) == 45 * len(old)
    assert rows(path, "SELECT count(*) FROM user_days WHERE user_id = ?", plain.user_id) == 0
    passes = [line for line in server.log_path.read_text().splitlines() if "retention pass:" in line]
    assert len(passes) == 1 and f"deleted {2 * len(old)} minutes" in passes[0], passes


def rows(path: Path, query: str, *args: Any) -> int:
    with closing(sqlite3.connect(path)) as db:
        (found,) = db.execute(query, args).fetchone()
    return int(found or 0)
