"""Takes docs/images/window.png: the StaffPulse window with the demo team, as a manager sees it.

Run through ``scripts/screenshot``, which gives it a private X display (``xvfb-run``). It starts a demo server
on SQLite in a temporary directory (``staffpulse-server demo`` + ``serve``, as ``scripts/demo``), enrolls the
four demo people, uploads a few hours of made-up minutes for each (today in each person's zone) and sets
their states, then runs the tray app as Mia Manager and saves the window with Qt's own grab.

    python scripts/screenshot.py [--out PATH]      prints {"path", "width", "height"} as JSON
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
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STATES = {"sam@demo.example": "active", "lee@demo.example": "break", "ana@demo.example": "idle"}
VIEWER = "mia@demo.example"


def start_server(work: Path) -> tuple[subprocess.Popen[str], str, dict[str, Any]]:
    database = f"sqlite:///{work / 'demo.db'}"
    seeded = subprocess.run([sys.executable, "-m", "server.cli", "demo", "--json", "--database-url", database],
                            capture_output=True, text=True, check=True, cwd=ROOT)
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
    return server, url, json.loads(seeded.stdout)


def enroll(url: str, code: str) -> dict[str, Any]:
    from protocol.version import VERSION

    answer = requests.post(url + "/api/v1/enroll", timeout=10, json={
        "code": code, "device_name": "demo-pc", "platform": "linux", "agent_version": VERSION})
    answer.raise_for_status()
    body: dict[str, Any] = answer.json()
    return body


def enrolled_yesterday(work: Path) -> None:
    """Count the demo devices as enrolled a day ago, in the database: the server refuses minutes from before a
    device was enrolled, and the made-up day goes back up to five hours."""
    from sqlalchemy import update

    from server.migrate import run_in_session
    from server.models import Device

    async def backdate(session: Any, now: datetime) -> None:
        await session.execute(update(Device).values(created_at=now - timedelta(days=1)))

    asyncio.run(run_in_session(f"sqlite:///{work / 'demo.db'}", backdate))


def made_up_day(url: str, person: dict[str, Any], zone: str, now: datetime, seed: int) -> None:
    """Minutes since local midnight (at most five hours back) with a working rhythm: mostly active, some idle."""
    start = max(now.astimezone(ZoneInfo(zone)).replace(hour=0, minute=0, second=0, microsecond=0),
                now - timedelta(hours=5)).astimezone(UTC).replace(second=0, microsecond=0)
    slots = []
    minute = start
    while minute < now - timedelta(minutes=2):
        wave = (math.sin((minute.timestamp() / 60 + seed * 37) / 23) + 1) / 2  # 0..1, a slow rhythm
        active = 60 if wave > 0.25 else 35
        typed = int(active * (0.35 + 0.5 * wave))
        slots.append({"start": minute.isoformat(), "tracked_s": 60, "active_s": active, "idle_s": 60 - active,
                      "break_s": 0, "input_s": typed, "keys": typed * 3, "clicks": typed // 4, "scrolls": 2,
                      "mouse_px": typed * 40})
        minute += timedelta(minutes=1)
    headers = {"Authorization": f"Bearer {person['token']}"}
    for first in range(0, len(slots), 500):
        requests.post(url + "/api/v1/activity", headers=headers, timeout=10,
                      json={"batch_id": str(uuid.uuid4()), "slots": slots[first:first + 500]}).raise_for_status()


def set_state(url: str, person: dict[str, Any], state: str, since: datetime) -> None:
    requests.put(url + "/api/v1/presence", headers={"Authorization": f"Bearer {person['token']}"}, timeout=10,
                 json={"state": state, "since": since.isoformat(), "seq": 1}).raise_for_status()


def wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    from PySide6.QtWidgets import QApplication

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        QApplication.processEvents()
        if condition():
            return True
        time.sleep(0.02)
    return False


def take(out: Path, work: Path) -> dict[str, Any]:
    """Everything Qt made here is gone when this returns; the QApplication (made by the caller) outlives it."""
    # The token in a plaintext file under work/agent, as scripts/demo does; the real agent uses the OS keyring.
    os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    os.environ["STAFFPULSE_ALLOW_PLAINTEXT_TOKEN"] = "1"
    os.environ["STAFFPULSE_DATA_DIR"] = str(work / "agent")
    from agent.assembly import Sampler
    from sync.credentials import CredentialStore
    from sync.live import LinkState
    from sync.settings import AgentSettings, save
    from ui.app import TrayApp

    server, url, demo = start_server(work)
    app: TrayApp | None = None
    try:
        now = datetime.now(UTC)
        viewer_token = ""
        people = [enroll(url, entry["code"]) for entry in demo["codes"]]
        enrolled_yesterday(work)
        for index, person in enumerate(people):
            made_up_day(url, person, person["user"]["time_zone"], now, index)
            login = person["user"]["login"]
            if login in STATES:
                set_state(url, person, STATES[login], now - timedelta(minutes=7 + 11 * index))
            if login == VIEWER:
                viewer_token = person["token"]
        data = work / "agent"
        data.mkdir()
        settings = AgentSettings(server_url=url)
        save(data, settings)
        CredentialStore().save(url, viewer_token)

        def sampler(on_change: Callable[..., None]) -> Sampler:
            return Sampler.open(data, idle_threshold=300, on_change=on_change)

        app = TrayApp(data, settings, sampler)
        app.start()
        shown = app
        ready = wait_until(lambda: shown.link.state is LinkState.LIVE and shown.window.team.model.rowCount() == 4
                           and sum(active for active, _ in shown.window.me.chart.hours) > 0, 20)
        if not ready:
            raise SystemExit("screenshot: the window did not fill with the demo team in time")
        app.window.notice.hide()  # "no system tray" is about this virtual display, not the product
        app.window.bring_up()
        wait_until(lambda: False, 0.3)  # let layout and painting settle
        image = app.window.grab()
        out.parent.mkdir(parents=True, exist_ok=True)
        if not image.save(str(out), "PNG"):
            raise SystemExit(f"screenshot: could not write {out}")
        return {"path": str(out), "width": app.window.width(), "height": app.window.height()}
    finally:
        if app is not None:
            app.quit()
            app.wait_stopped(30)
            wait_until(lambda: False, 0.5)  # results of reads still in flight arrive (and are dropped) now
        server.terminate()
        server.wait(10)
        if server.stdout is not None:
            server.stdout.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images" / "window.png")
    args = parser.parse_args()
    if not os.environ.get("DISPLAY"):
        sys.exit("screenshot: needs an X display; run scripts/screenshot (it starts Xvfb)")
    from PySide6.QtWidgets import QApplication

    qt = QApplication([sys.argv[0]])
    qt.setQuitOnLastWindowClosed(False)
    with tempfile.TemporaryDirectory(prefix="staffpulse-screenshot-") as work:
        print(json.dumps(take(args.out.resolve(), Path(work))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
