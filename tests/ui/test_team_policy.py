"""Issue 15, item 8: the team's policy from ``/me`` is in force in the running app (idle threshold to the sampler,
upload interval to the uploader), shown and locked in Settings as the team's; IT's machine policy beats it.

The policy is changed as an admin changes it, with ``staffpulse-server teams set``; the agent reads ``/me`` at
each connect, so a server restart brings the change to the app that keeps running. This module has its own
server for that restart."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from agent.policy import MachinePolicy
from support.servers import ServerProcess, sqlite_server
from support.team import admin_cli, make_team
from sync.live import LinkState
from tests.ui.conftest import Launch
from ui.app import TrayApp
from ui.settings_dialog import DEFAULT_NOTE, LOCKED_NOTE, TEAM_NOTE, SettingsDialog

LIVE_TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with sqlite_server(tmp_path_factory.mktemp("policy-server")) as process:
        yield process


def settings(qtbot: QtBot, app: TrayApp) -> SettingsDialog:
    app.open_settings()
    dialog = app.dialog
    assert dialog is not None
    qtbot.addWidget(dialog)
    return dialog


def notes(dialog: SettingsDialog) -> list[str]:
    return [label.text() for label in dialog.findChildren(QLabel)]


def in_force(app: TrayApp) -> tuple[int, float]:
    """The idle threshold the sampler uses and the interval the uploader waits, read from the running agent."""
    assert app.service is not None and app.service.connected is not None
    return app.service.sampler.runner.idle_threshold, app.service.connected.scheduler.interval_s


# The server restart leaves a failed websocket attempt's socket to the garbage collector, as in
# tests/ui/test_window_live.py's outage test: collected here, so its ResourceWarning is attributed to this test.
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_a_changed_team_policy_reaches_the_running_app_and_locks_the_field(qtbot: QtBot, server: ServerProcess,
                                                                          launch: Launch) -> None:
    team = make_team(server)
    app = launch(team.people[1])
    qtbot.waitUntil(lambda: app.me is not None and app.link.state is LinkState.LIVE, timeout=LIVE_TIMEOUT_MS)
    qtbot.waitUntil(lambda: in_force(app) == (300, 300), timeout=5000)  # the team's defaults

    changed = admin_cli(server, "teams", "set", team.name, "--idle-threshold", "120", "--sync-interval", "600")
    assert (changed["idle_threshold_s"], changed["sync_interval_s"]) == (120, 600)
    server.restart()  # the agent reads /me again when it reconnects
    qtbot.waitUntil(lambda: in_force(app) == (120, 600), timeout=30_000)
    assert app.policy is not None and app.policy.idle_threshold_s == 120

    dialog = settings(qtbot, app)
    assert dialog.idle.value() == 120 and not dialog.idle.isEnabled(), "a staff member cannot change it"
    assert dialog.idle.toolTip() == TEAM_NOTE
    assert dialog.interval.text() == "every 10 minutes" and dialog.interval_note.text() == TEAM_NOTE
    assert notes(dialog).count(TEAM_NOTE) == 2 and LOCKED_NOTE not in notes(dialog)
    dialog.reject()
    gc.collect()


def test_it_policy_beats_the_team_policy(qtbot: QtBot, server: ServerProcess, launch: Launch) -> None:
    team = make_team(server)
    admin_cli(server, "teams", "set", team.name, "--idle-threshold", "120", "--sync-interval", "900")
    app = launch(team.people[1], policy=MachinePolicy(idle_threshold_s=600))
    # Live, not only /me read: a quit in the middle of a connect attempt waits that attempt out.
    qtbot.waitUntil(lambda: app.me is not None and app.link.state is LinkState.LIVE, timeout=LIVE_TIMEOUT_MS)
    qtbot.waitUntil(lambda: in_force(app)[1] == 900, timeout=5000)  # the team's interval: /me was applied
    assert in_force(app)[0] == 600, "IT's threshold holds against the team's"

    dialog = settings(qtbot, app)
    assert dialog.idle.value() == 600 and not dialog.idle.isEnabled()
    assert dialog.idle.toolTip() == LOCKED_NOTE and LOCKED_NOTE in notes(dialog)
    assert dialog.interval.text() == "every 15 minutes" and dialog.interval_note.text() == TEAM_NOTE
    dialog.reject()


def test_without_a_team_policy_the_persons_own_threshold_is_theirs_to_change(qtbot: QtBot, server: ServerProcess,
                                                                            launch: Launch) -> None:
    app = launch(None)  # not enrolled: no team policy
    qtbot.waitUntil(lambda: app.dialog is not None and app.dialog.isVisible(), timeout=5000)
    dialog = app.dialog
    assert dialog is not None
    assert dialog.idle.isEnabled() and dialog.interval_note.text() == DEFAULT_NOTE
    assert not {TEAM_NOTE, LOCKED_NOTE} & set(notes(dialog))
    dialog.idle.setValue(240)
    dialog.submit()
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=5000)
    assert app.service is not None
    qtbot.waitUntil(lambda: app.service is not None and app.service.sampler.runner.idle_threshold == 240,
                    timeout=5000)  # in force at once, no restart
