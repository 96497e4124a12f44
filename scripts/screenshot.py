"""Takes the README's and docs/ui.md's pictures: every tab of the StaffPulse window, for a staff member and a
manager, in the light and the dark palette, as docs/images/window-<tab>-<role>-<theme>.png.

Run through ``scripts/screenshot``, which gives it a private X display (``xvfb-run``). It starts a demo
server on SQLite in a temporary directory (the team of ``staffpulse-server demo``, then ``serve``, as
``scripts/demo``), enrolls the four demo people, writes a month of made-up minutes for each straight into the
server's database (the server refuses uploads older than its retention window and an agent cannot backfill;
``seed_month``), sets today's states as of now, then runs the tray app as Sam Support (member) and as Mia
Manager (manager) in turn and saves the window with Qt's own grab. The tabs are taken by their titles as the
window has them, so a new tab is pictured without a change here.

    python scripts/screenshot.py [--out-dir DIR]   prints one JSON object per picture: path, tab, role, theme
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: Today's states as of now, set again before each role's run (a window that closed left its person away).
STATES = {"mia@demo.example": "active", "sam@demo.example": "active", "lee@demo.example": "break",
          "ana@demo.example": "idle"}
VIEWERS = {"member": "sam@demo.example", "manager": "mia@demo.example"}  # whose window each role's pictures show
THEMES = ("light", "dark")
DAYS = 30  # the seeded month: today and the 29 days before, as the history views show them
#: Working hours per person (local), so the team's day has a shape: start hour and minutes worked.
WINDOW_SIZE = (900, 620)  # the pictures' size: room for the dashboard's columns, within the 800-1280 px goal
SETTLE_TIMEOUT_S = 30.0  # a tab's reads (the History tab's, a manager's team day) must have answered by then
SHIFTS = {"mia@demo.example": (8, 540), "sam@demo.example": (9, 510), "lee@demo.example": (8, 480),
          "ana@demo.example": (10, 450)}


def start_server(work: Path) -> tuple[subprocess.Popen[str], str, dict[str, Any]]:
    from server import demo
    from server.migrate import run_in_session

    database = f"sqlite:///{work / 'demo.db'}"

    async def seed(session: Any, now: datetime) -> dict[str, Any]:  # as ``staffpulse-server demo``, in-process
        return await demo.seed(session, now=now)

    seeded: dict[str, Any] = asyncio.run(run_in_session(database, seed))
    server = subprocess.Popen([sys.executable, "-m", "server.cli", "serve", "--port", "0", "--database-url",
                               database, "--log-level", "warning"], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert server.stdout is not None
    line = server.stdout.readline()
    if "listening on http://" not in line:
        server.kill()
        raise SystemExit(f"screenshot: the demo server did not start: {line!r}")
    url = "http://" + line.split("listening on http://", 1)[1].split()[0]
    for _ in range(100):
        try:
            if requests.get(url + "/healthz", timeout=1).ok:
                break
        except requests.ConnectionError:
            time.sleep(0.1)
    return server, url, seeded


def enroll(url: str, code: str) -> dict[str, Any]:
    from protocol.version import VERSION

    answer = requests.post(url + "/api/v1/enroll", timeout=10, json={
        "code": code, "device_name": "demo-pc", "platform": "linux", "agent_version": VERSION})
    answer.raise_for_status()
    body: dict[str, Any] = answer.json()
    return body


def minute(start: datetime, seed: int, lunch: bool) -> dict[str, Any]:
    """One made-up minute with a working rhythm: mostly active, some idle, input in most active seconds."""
    wave = (math.sin((start.timestamp() / 60 + seed * 37) / 23) + 1) / 2  # 0..1, a slow rhythm
    active = 0 if lunch else 60 if wave > 0.25 else 35
    typed = int(active * (0.35 + 0.5 * wave))
    return {"start": start, "tracked_s": 60, "active_s": active, "idle_s": 0 if lunch else 60 - active,
            "break_s": 60 if lunch else 0, "input_s": typed, "keys": typed * 3, "clicks": typed // 4,
            "scrolls": 0 if lunch else 2, "mouse_px": typed * 40}


def month_of_minutes(login: str, zone: str, now: datetime, seed: int) -> list[dict[str, Any]]:
    """Weekdays of the last ``DAYS`` days in the person's zone, and today whatever day it is (the pictures show
    a working day): a shift with a half-hour lunch break (break minutes) in its middle, today's up to two
    minutes ago."""
    first_hour, length = SHIFTS[login]
    today = now.astimezone(ZoneInfo(zone)).date()
    rows = []
    for back in range(DAYS):
        day = today - timedelta(days=back)
        if back and day.weekday() >= 5:
            continue
        shift = datetime(day.year, day.month, day.day, first_hour, 7 * seed % 30, tzinfo=ZoneInfo(zone))
        length_today = length - 25 * ((back + seed) % 3)  # some days shorter
        for offset in range(length_today):
            start = (shift + timedelta(minutes=offset)).astimezone(UTC)
            if start >= now - timedelta(minutes=2):
                break
            rows.append(minute(start, seed, lunch=length_today // 2 - 15 <= offset < length_today // 2 + 15))
    return rows


def seed_month(database: str, people: list[dict[str, Any]], now: datetime) -> int:
    """Write the month straight into the database (the agent's own uploads cannot go back that far), with the
    devices counted as enrolled before it; returns how many minutes were written."""
    from sqlalchemy import insert, update

    from server.migrate import run_in_session
    from server.models import ActivitySlot, Device

    async def write(session: Any, _now: datetime) -> int:
        await session.execute(update(Device).values(created_at=now - timedelta(days=DAYS + 1)))
        count = 0
        for index, person in enumerate(people):
            user = person["user"]
            rows = [row | {"device_id": person["device_id"], "user_id": user["id"]}
                    for row in month_of_minutes(user["login"], user["time_zone"], now, index)]
            for first in range(0, len(rows), 5000):
                await session.execute(insert(ActivitySlot), rows[first:first + 5000])
            count += len(rows)
        return count

    written: int = asyncio.run(run_in_session(database, write))
    return written


def set_states(url: str, people: list[dict[str, Any]], now: datetime, seq: int) -> None:
    """Everyone's state as ``STATES`` says, each since a few minutes before ``now`` (``seq`` must grow)."""
    for index, person in enumerate(people):
        state, since = STATES[person["user"]["login"]], now - timedelta(minutes=7 + 11 * index)
        requests.put(url + "/api/v1/presence", headers={"Authorization": f"Bearer {person['token']}"}, timeout=10,
                     json={"state": state, "since": since.isoformat(), "seq": seq}).raise_for_status()


def wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    from PySide6.QtWidgets import QApplication

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        QApplication.processEvents()
        if condition():
            return True
        time.sleep(0.02)
    return False


def slug(title: str) -> str:
    """A tab's title as a file name part: ``&History`` → ``history``, ``Sync & upload`` → ``sync-upload``."""
    words = "".join(c.lower() if c.isalnum() else " " for c in title.replace("&&", " ").replace("&", ""))
    return "-".join(words.split())


def picture_name(tab: str, role: str, theme: str) -> str:
    return f"window-{slug(tab)}-{role}-{theme}.png"


def settled(app: Any) -> bool:
    """The window shows what was read, not a read in flight: for a manager the team day's strips; on the History
    tab (which reads when shown) its answer, its note not "Reading…" and no error in its place."""
    from protocol.schema import Role

    window, history = app.window, app.window.history
    team_day = app.me is not None and (app.me.user.role is Role.MEMBER or app.team_day is not None)
    return team_day and (window.tabs.currentWidget() is not history or (
        history.answer is not None and not history.status.text().startswith("Reading")))


def pictures(app: Any, role: str, out_dir: Path) -> list[dict[str, Any]]:
    """Every tab of ``app``'s window in each palette, saved into ``out_dir``."""
    from ui import theme
    from ui.palettes import Scheme

    window = app.window
    window.notice.hide()  # "no system tray" is about this virtual display, not the product
    window.resize(WINDOW_SIZE[0], WINDOW_SIZE[1])
    window.bring_up()
    taken = []
    for name in THEMES:
        theme.apply(Scheme(name))
        for index in range(window.tabs.count()):
            title = window.tabs.tabText(index)
            window.tabs.setCurrentIndex(index)  # the History tab reads when shown: wait for its answer
            if not wait_until(lambda: settled(app), SETTLE_TIMEOUT_S):
                raise SystemExit(f"screenshot: the {role}'s {title} tab still waits for the server "
                                 f"({window.history.status.text()!r}); no picture of a read in flight")
            path = out_dir / picture_name(title, role, name)
            if not window.grab().save(str(path), "PNG"):
                raise SystemExit(f"screenshot: could not write {path}")
            taken.append({"path": str(path), "tab": title, "role": role, "theme": name,
                          "width": window.width(), "height": window.height(),
                          "history_status": window.history.status.text()})
    return taken


def run_as(role: str, token: str, url: str, work: Path, members: int, out_dir: Path) -> list[dict[str, Any]]:
    """The tray app enrolled as ``token``'s person, once its window shows the live team; its pictures."""
    from agent.assembly import Sampler
    from sync.credentials import CredentialStore
    from sync.live import LinkState
    from sync.settings import AgentSettings, save
    from ui.app import TrayApp

    data = work / f"agent-{role}"
    data.mkdir()
    settings = AgentSettings(server_url=url)
    save(data, settings)
    CredentialStore().save(url, token)

    def sampler(on_change: Callable[..., None]) -> Sampler:
        return Sampler.open(data, idle_threshold=300, on_change=on_change)

    app = TrayApp(data, settings, sampler)
    try:
        app.start()
        ready = wait_until(lambda: app.link.state is LinkState.LIVE and app.snapshot is not None
                           and app.window.team.model.rowCount() == members, 30)
        if not ready:
            raise SystemExit(f"screenshot: the {role}'s window did not fill with the demo team in time")
        return pictures(app, role, out_dir)
    finally:
        app.quit()
        app.wait_stopped(30)
        wait_until(lambda: False, 0.5)  # results of reads still in flight arrive (and are dropped) now


def take(out_dir: Path, work: Path) -> list[dict[str, Any]]:
    """Everything Qt made here is gone when this returns; the QApplication (made by the caller) outlives it."""
    # The token in a plaintext file under work/agent, as scripts/demo does; the real agent uses the OS keyring.
    os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    os.environ["STAFFPULSE_ALLOW_PLAINTEXT_TOKEN"] = "1"
    os.environ["STAFFPULSE_DATA_DIR"] = str(work / "agent")
    server, url, demo = start_server(work)
    try:
        now = datetime.now(UTC)
        people = [enroll(url, entry["code"]) for entry in demo["codes"]]
        seed_month(f"sqlite:///{work / 'demo.db'}", people, now)
        tokens = {person["user"]["login"]: person["token"] for person in people}
        out_dir.mkdir(parents=True, exist_ok=True)
        for role in VIEWERS:  # the last run's pictures go: a tab renamed or removed leaves none behind
            for old in out_dir.glob(f"window-*-{role}-*.png"):
                old.unlink()
        shots = []
        for seq, (role, login) in enumerate(VIEWERS.items(), start=1):
            set_states(url, people, now, seq)
            shots += run_as(role, tokens[login], url, work, len(people), out_dir)
        return shots
    finally:
        server.terminate()
        server.wait(10)
        if server.stdout is not None:
            server.stdout.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=ROOT / "docs" / "images")
    args = parser.parse_args()
    if not os.environ.get("DISPLAY"):
        sys.exit("screenshot: needs an X display; run scripts/screenshot (it starts Xvfb)")
    from PySide6.QtWidgets import QApplication

    qt = QApplication([sys.argv[0]])
    qt.setQuitOnLastWindowClosed(False)
    with tempfile.TemporaryDirectory(prefix="staffpulse-screenshot-") as work:
        for shot in take(args.out_dir.resolve(), Path(work)):
            print(json.dumps(shot), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
