"""Pause tracking and the question after an idle spell, in the tray app against a real server.

Pause: offered and accepted only when the team's policy allows it (through the app and the control channel),
and while paused the team sees the person as paused (not away), another device of theirs active winning.
Idle: the sampler runs on a sped-up clock with a stand-in for the person's input, so minutes of idleness pass in
seconds; the idle minutes do not reach the server before the answer, and the answer decides what the server's
day totals say.
"""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from sqlalchemy import update

from agent.assembly import Sampler
from agent.input_counter import InputCounter
from agent.outbox import Outbox
from agent.returning import IdleAnswer, IdleReturn
from agent.runner import Runner
from agent.slots import InputCounts
from protocol.schema import PresenceState
from server import admin
from server.migrate import run_in_session
from server.models import Team as TeamRow
from support.servers import ServerProcess
from support.team import LiveClient, Person, admin_cli, enroll, get, issue_code, make_team, put_presence
from sync import control
from tests.ui.conftest import Launch
from tests.ui.test_window_live import LIVE_TIMEOUT_MS, cell, wait_live
from ui import present
from ui.app import TrayApp

ROOT = Path(__file__).resolve().parents[2]
SPEED = 20.0  # fake seconds per real second
THRESHOLD = 60


def allow_pause(server: ServerProcess, team_name: str, allowed: bool = True) -> None:
    """What an admin's ``teams create --pause-allowed`` gives; set directly, the team exists already."""

    async def work(session: Any, _now: datetime) -> None:
        await session.execute(update(TeamRow).where(TeamRow.name == team_name).values(pause_allowed=allowed))

    asyncio.run(run_in_session(server.database_url, work))


def staffpulse(data_dir: Path, command: str) -> subprocess.CompletedProcess[str]:
    """The command as a person types it, reaching the app's control channel."""
    return subprocess.run([sys.executable, "-m", "staffpulse", command, "--data-dir", str(data_dir)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def state_seen_by(server: ServerProcess, reader: Person, person: Person) -> str:
    members = get(server, reader, "/api/v1/team").json()["members"]
    (member,) = [m for m in members if m["user_id"] == person.user_id]
    return str(member["state"])


def test_pause_is_refused_unless_the_team_allows_it(qtbot: QtBot, server: ServerProcess, launch: Launch) -> None:
    team = make_team(server)
    app = launch(team.people[1])
    qtbot.waitUntil(lambda: app.policy is not None, timeout=15_000)
    assert app.service is not None and not app.service.pause_allowed
    assert control.send(app.data_dir, {"command": "pause", "on": True}) == {
        "ok": False, "error": "pausing is not allowed by your team's policy"}
    refused = staffpulse(app.data_dir, "pause")
    assert (refused.returncode, refused.stderr.strip()) == (
        1, "staffpulse pause: pausing is not allowed by your team's policy")
    app.toggle_pause()
    assert "not allowed" in app.window.notice.text()
    # A break asked after the refused pause takes effect at a later sample: by then a pause would have too.
    app.toggle_break()
    qtbot.waitUntil(lambda: app.own_state is PresenceState.BREAK, timeout=10_000)
    assert not app.paused


def state_dot(app: TrayApp, name: str) -> str:
    """The colour at the centre of the State column's dot for ``name``'s row."""
    model = app.window.team.model
    (row,) = [r for r in range(model.rowCount()) if model.member(r).name == name]
    icon = model.data(model.index(row, model.columns.index("State")), Qt.ItemDataRole.DecorationRole)
    image = icon.pixmap(12, 12).toImage()
    return str(image.pixelColor(image.width() // 2, image.height() // 2).name())


def test_a_pause_the_team_allows_shows_as_paused_to_the_team_and_ends_on_resume(
        qtbot: QtBot, server: ServerProcess, launch: Launch) -> None:
    """Issue 15, item 12: a paused person looked away to the team, like one whose screen is locked."""
    team = make_team(server)
    admin_cli(server, "teams", "set", team.name, "--pause-allowed", "yes")
    manager, me, teammate = team.people
    # The teammate's window: another server address for the same server, since the keyring holds one token
    # per address and both apps run in this process.
    watcher = launch(teammate, url=server.url.replace("127.0.0.1", "localhost"))
    app = launch(me)
    qtbot.waitUntil(lambda: app.policy is not None and app.policy.pause_allowed, timeout=15_000)
    qtbot.waitUntil(lambda: state_seen_by(server, manager, me) == "active", timeout=10_000)
    wait_live(qtbot, watcher, 3)
    app.toggle_pause()
    qtbot.waitUntil(lambda: app.paused, timeout=5000)
    assert app.window.own_state.text().startswith("Paused since ")
    qtbot.waitUntil(lambda: state_seen_by(server, manager, me) == "paused", timeout=10_000)
    qtbot.waitUntil(lambda: cell(watcher, me.name, "State").startswith("Paused · "), timeout=LIVE_TIMEOUT_MS)
    assert state_dot(watcher, me.name) == present.STATE_COLOURS[PresenceState.PAUSED]
    qtbot.waitUntil(lambda: cell(app, me.name, "State").startswith("Paused · "), timeout=LIVE_TIMEOUT_MS)
    status = control.send(app.data_dir, {"command": "status"})
    assert status is not None and status["paused"] and status["state"] == "paused"

    # The same person's second device, active, wins over the pause; away there does not.
    laptop = enroll(server, issue_code(server, me.login), device_name="laptop")
    second = dataclasses.replace(me, token=laptop["token"], device_id=laptop["device_id"])
    assert put_presence(server, second, "active", seq=1).status_code == 200
    qtbot.waitUntil(lambda: cell(watcher, me.name, "State").startswith("Active · "), timeout=LIVE_TIMEOUT_MS)
    assert state_seen_by(server, manager, me) == "active"
    assert put_presence(server, second, "away", seq=2).status_code == 200
    qtbot.waitUntil(lambda: cell(watcher, me.name, "State").startswith("Paused · "), timeout=LIVE_TIMEOUT_MS)
    assert state_seen_by(server, manager, me) == "paused"

    resumed = staffpulse(app.data_dir, "resume")
    assert (resumed.returncode, resumed.stdout.strip()) == (0, "Tracking resumed"), resumed.stderr
    qtbot.waitUntil(lambda: not app.paused and app.own_state is PresenceState.ACTIVE, timeout=5000)
    qtbot.waitUntil(lambda: state_seen_by(server, manager, me) == "active", timeout=10_000)
    qtbot.waitUntil(lambda: cell(watcher, me.name, "State").startswith("Active · "), timeout=LIVE_TIMEOUT_MS)

    app.toggle_pause()
    qtbot.waitUntil(lambda: app.paused, timeout=5000)
    allow_pause(server, team.name, allowed=False)  # the admin changes the policy during the pause
    # The agent's next reconnect reads /me again: a socket with its token replaces the agent's, which reconnects.
    LiveClient(server, me.token, reconnection=False).connect().close()
    qtbot.waitUntil(lambda: app.policy is not None and not app.policy.pause_allowed, timeout=15_000)
    qtbot.waitUntil(lambda: not app.paused and app.own_state is PresenceState.ACTIVE, timeout=5000)


class FastClock:
    """Real time sped up ``SPEED`` times from a start in the past, so the minutes it writes are history."""

    def __init__(self, start: datetime) -> None:
        self._start, self._zero = start, time.monotonic()

    def monotonic(self) -> float:
        return (time.monotonic() - self._zero) * SPEED

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self.monotonic())


class Desk:
    """The person at the keyboard, as the idle backend sees them: typing, or not since some moment."""

    def __init__(self, clock: FastClock) -> None:
        self._clock, self.typing, self._last = clock, True, 0.0

    def stop_typing(self) -> None:
        self._last, self.typing = self._clock.monotonic(), False

    def idle_seconds(self) -> float:
        return 0.0 if self.typing else self._clock.monotonic() - self._last

    def locked(self) -> bool:
        return False


def fast_sampler(clock: FastClock, person: Desk) -> Callable[[Path, Callable[..., None]], Sampler]:
    def open_sampler(data: Path, on_change: Callable[..., None]) -> Sampler:
        outbox = Outbox(data, now=clock.now)
        # A stalled test machine must not look like a suspended laptop: no sleep gaps at this speed.
        runner = Runner(outbox=outbox, clock=clock, counts=InputCounts, idle=person, idle_threshold=THRESHOLD,
                        sleep_gap=3600, on_change=on_change)
        return Sampler(counter=InputCounter(clock.monotonic), outbox=outbox, runner=runner, every=1 / SPEED)

    return open_sampler


def day_totals(server: ServerProcess, person: Person, days: set[date]) -> dict[str, int]:
    totals = {"active_s": 0, "idle_s": 0, "break_s": 0}
    for day in days:
        body = get(server, person, f"/api/v1/me/days/{day.isoformat()}").json()["totals"]
        totals = {key: value + body[key] for key, value in totals.items()}
    return totals


def test_coming_back_from_idle_asks_and_the_answer_reaches_the_server(qtbot: QtBot, server: ServerProcess,
                                                                      launch: Launch) -> None:
    team = make_team(server, time_zone="UTC")
    me = team.people[1]
    # The team's policy sets the threshold the running agent uses (issue 15, item 8): the same as the sampler's.
    asyncio.run(run_in_session(server.database_url, lambda session, _now: admin.set_team(
        session, name=team.name, idle_threshold_s=THRESHOLD)))
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=20)
    clock = FastClock(start)
    person = Desk(clock)
    app = launch(me, fast_sampler(clock, person))
    spells: list[IdleReturn] = []
    app.bridge.idle_return.connect(spells.append)
    qtbot.waitUntil(lambda: app.service is not None and app.service.connected is not None and app.running,
                    timeout=15_000)
    assert app.service is not None
    outbox = app.service.sampler.outbox
    qtbot.wait(int(70 / SPEED * 1000))  # 70 s of work
    person.stop_typing()
    qtbot.waitUntil(lambda: app.own_state is PresenceState.IDLE, timeout=10_000)
    qtbot.wait(int(120 / SPEED * 1000))  # two more minutes away from the desk
    person.typing = True
    qtbot.waitUntil(app.idle_prompt.isVisible, timeout=5000)
    assert app.idle_prompt.question.text().startswith("You were away from ")
    days = {start.date(), clock.now().date(), (clock.now() + timedelta(minutes=5)).date()}

    held = outbox.held_count()
    assert held >= 2, "the idle minutes wait for the answer"
    app.sync_now()
    qtbot.waitUntil(lambda: app.window.sync.button.isEnabled(), timeout=10_000)
    before = day_totals(server, me, days)
    assert before["idle_s"] == 0 and before["break_s"] == 0 and before["active_s"] > 0, before

    started = time.perf_counter()
    app.idle_prompt.buttons[IdleAnswer.BREAK].click()
    assert time.perf_counter() - started < 0.05, "answering must not block the GUI thread"
    assert not app.idle_prompt.isVisible()
    qtbot.waitUntil(lambda: outbox.held_count() == 0, timeout=10_000)  # the return minute closed, answer applied
    qtbot.waitUntil(lambda: outbox.pending_count() == 0, timeout=10_000)  # and uploaded at once
    after = day_totals(server, me, days)
    assert after["idle_s"] == 0, after
    (spell,) = spells
    assert after["break_s"] == (spell.until - spell.since).total_seconds() > THRESHOLD + 60, (after, spell)
    slots = [s for day in days for s in get(server, me, f"/api/v1/me/days/{day.isoformat()}").json()["slots"]]
    assert after["break_s"] == sum(s["break_s"] for s in slots)
    assert all(s["tracked_s"] == s["active_s"] + s["idle_s"] + s["break_s"] for s in slots)
