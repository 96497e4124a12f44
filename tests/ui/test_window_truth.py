"""What the window claims must be true (issue 15): a member's real last-seen, no sync claimed that did not reach
the server, Sync Now that answers at once when the server is known down, and the enrollment banner that clears.
Against a real server (or none at all)."""

from __future__ import annotations

import gc
import logging
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from agent.outbox import Outbox
from protocol.schema import Slot
from support.servers import ServerProcess, free_port, sqlite_server
from support.team import LiveClient, enroll, issue_code, make_team, put_presence, recent_minutes
from sync.live import LinkState
from sync.uploader import KEPT
from tests.ui.conftest import Launch
from tests.ui.test_window_live import LIVE_TIMEOUT_MS, cell, wait_live
from ui.app import TrayApp


def state(app: TrayApp, name: str) -> str:
    """The State column's state, without its duration ("Break · 12 min" → "Break")."""
    return cell(app, name, "State").split(" · ")[0]


def test_last_seen_is_the_members_not_the_age_of_the_windows_last_read(qtbot: QtBot, server: ServerProcess,
                                                                       launch: Launch) -> None:
    team = make_team(server)
    manager, me, teammate = team.people
    app = launch(me)
    wait_live(qtbot, app, 3)
    teammate_socket = LiveClient(server, teammate.token).connect()
    try:
        qtbot.waitUntil(lambda: state(app, teammate.name) == "Active", timeout=LIVE_TIMEOUT_MS)
        assert app.snapshot is not None
        quiet = datetime.now().astimezone() + timedelta(minutes=3)  # the table's refresh, three quiet minutes on
        app.window.team.model.set_members(app.snapshot.members, quiet)
        assert cell(app, me.name, "Last seen") == "now", "I am connected and Active"
        assert cell(app, teammate.name, "Last seen") == "now"
        assert cell(app, manager.name, "Last seen") == "never"
    finally:
        teammate_socket.close()
    qtbot.waitUntil(lambda: state(app, teammate.name) == "Offline", timeout=LIVE_TIMEOUT_MS)
    assert app.snapshot is not None
    app.window.team.model.set_members(app.snapshot.members, datetime.now().astimezone() + timedelta(minutes=3))
    assert cell(app, teammate.name, "Last seen") == "3 min ago", "the moment the presence event said"


def quit_and_collect(app: TrayApp) -> None:
    """Quit here, not in the fixture, and collect: the failed websocket attempts of an outage leave their sockets
    to the garbage collector (see test_window_live.py), and only here are their ResourceWarnings expected."""
    app.quit()
    assert app.wait_stopped(30)
    gc.collect()


def commit_minutes(data_dir: Path, count: int) -> None:
    outbox = Outbox(data_dir)
    try:
        slots = [Slot(start=start, tracked_s=60, active_s=60, idle_s=0, break_s=0, input_s=20, keys=7, clicks=1,
                      scrolls=0, mouse_px=40) for start in recent_minutes(count, ago=3)]
        outbox.commit(slots, checkpoint=outbox.checkpoint() or "{}")
    finally:
        outbox.close()


@pytest.mark.filterwarnings("ignore::ResourceWarning")  # failed websocket attempts (see test_window_live.py)
def test_started_with_the_server_down_claims_no_sync_and_sync_now_fails_fast(qtbot: QtBot, server: ServerProcess,
                                                                            launch: Launch,
                                                                            caplog: pytest.LogCaptureFixture) -> None:
    me = make_team(server).people[1]
    app = launch(me, url=f"http://127.0.0.1:{free_port()}")  # nothing listens there
    qtbot.waitUntil(lambda: app.sync_status.last_attempt is not None and app.link.state is LinkState.RECONNECTING,
                    timeout=LIVE_TIMEOUT_MS)  # the start run, with nothing waiting
    tab = app.window.sync
    assert "Up to date" not in tab.result.text() and app.sync_status.last_success is None
    assert tab.error.text() != "none"

    commit_minutes(app.data_dir, 1)
    app.refresh()
    qtbot.waitUntil(lambda: tab.pending.text() == "1 minute", timeout=5000)
    first_attempt = app.sync_status.last_attempt
    caplog.set_level(logging.INFO, logger="sync.uploader")
    tab.button.click()
    # Known down: one try, not four retries with backoff (1 + 2 + 4 + 8 s ceilings) before the person hears.
    qtbot.waitUntil(lambda: app.sync_status.last_attempt != first_attempt and tab.button.isEnabled(), timeout=4000)
    assert "upload failed" not in caplog.text, "no retries while the server is known down"
    assert tab.result.text().startswith("Last sync failed: ") and KEPT in tab.result.text()
    checked = re.search(r"\(checked at (\d\d:\d\d:\d\d)\)$", tab.result.text())
    assert app.sync_status.last_attempt is not None and checked is not None
    assert checked[1] == app.sync_status.last_attempt.astimezone().strftime("%H:%M:%S"), "every click answers"
    quit_and_collect(app)


@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_an_outage_takes_back_up_to_date_and_the_break_is_told_once_across_the_restart(
        qtbot: QtBot, launch: Launch, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Issue 15, items 2 and 7. While the server is down with nothing waiting, "Up to date" and "Last error:
    none" go. After the restart the team re-read shows the teammate's break again (after a spell offline),
    with the ``since`` it began at: not a new break. A server of its own, stopped and started here."""
    with sqlite_server(tmp_path) as own:
        _manager, me, teammate = make_team(own).people
        app = launch(me, url=own.url)
        wait_live(qtbot, app, 3)
        qtbot.waitUntil(lambda: app.me is not None and app.window.sync.result.text().startswith("Up to date at "),
                        timeout=LIVE_TIMEOUT_MS)
        assert app.window.sync.error.text() == "none"
        caplog.set_level(logging.INFO, logger="ui.app")
        told = f"{teammate.name} started a break"
        teammate_socket = LiveClient(own, teammate.token, reconnection=False).connect()
        assert put_presence(own, teammate, "break", seq=1, since=datetime.now(UTC) - timedelta(minutes=5)).ok
        qtbot.waitUntil(lambda: told in caplog.text, timeout=LIVE_TIMEOUT_MS)
        teammate_socket.close()

        own.stop()
        qtbot.waitUntil(lambda: app.link.state is LinkState.RECONNECTING, timeout=LIVE_TIMEOUT_MS)
        assert app.window.sync.result.text().startswith("Waiting for the server; last reached at ")
        assert app.window.sync.error.text() == "no connection to the server: retrying"

        own.start()
        qtbot.waitUntil(lambda: app.link.state is LinkState.LIVE and state(app, teammate.name) == "Offline",
                        timeout=30_000)
        # back, still on break; reconnecting: the restarted server's first regroup pass may drop a socket still
        # joining its rooms once (server/announce.py), as it would a real agent's, which reconnects
        teammate_socket = LiveClient(own, teammate.token).connect()
        try:
            qtbot.waitUntil(lambda: state(app, teammate.name) == "Break", timeout=LIVE_TIMEOUT_MS)
        finally:
            teammate_socket.close()
        assert caplog.text.count(told) == 1
        quit_and_collect(app)
    gc.collect()  # the stopped server's connections are closed here, under this test's ResourceWarning filter,
    # not by a later test's collection, where pytest reports them as that test's failure


def test_a_member_created_and_enrolled_while_the_window_is_open_appears(qtbot: QtBot, server: ServerProcess,
                                                                       launch: Launch) -> None:
    """Issue 15, item 4: the admin creates the member in another process (the CLI); the window lists them
    without a reconnect, then follows their device like anyone's."""
    team = make_team(server)
    app = launch(team.people[1])
    wait_live(qtbot, app, 3)
    login = f"newcomer@{team.name}.example"
    created = subprocess.run([sys.executable, "-m", "server.cli", "users", "create", "--team", team.name, "--login",
                              login, "--name", "Newcomer", "--database-url", server.database_url],
                             capture_output=True, text=True, timeout=60)
    assert created.returncode == 0, created.stderr
    qtbot.waitUntil(lambda: app.window.team.model.rowCount() == 4, timeout=LIVE_TIMEOUT_MS)
    assert state(app, "Newcomer") == "Offline" and cell(app, "Newcomer", "Last seen") == "never"
    newcomer = enroll(server, issue_code(server, login), device_name="newcomer-pc")
    newcomer_socket = LiveClient(server, newcomer["token"], reconnection=False).connect()
    try:
        qtbot.waitUntil(lambda: state(app, "Newcomer") == "Active", timeout=LIVE_TIMEOUT_MS)
    finally:
        newcomer_socket.close()
    assert app.link.state is LinkState.LIVE and app.snapshot is not None
    assert "Newcomer" in [member.name for member in app.snapshot.members]
