"""Item 6: the window has its own way to Settings and About (a desktop without a system tray has no tray menu),
and About shows what the server's ``/me`` says, in plain words when the device is not enrolled."""

from __future__ import annotations

from PySide6.QtGui import QAction, QFont
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from protocol.version import VERSION
from support.servers import ServerProcess
from support.team import get, make_team
from sync.live import LinkState
from tests.ui.conftest import Launch
from ui import about_facts
from ui.app import TrayApp


def window_action(app: TrayApp, text: str) -> QAction:
    """An action of the window's own menu bar, found by its words as a person would."""
    for menu_action in app.window.menuBar().actions():
        menu = menu_action.menu()
        for action in menu.actions() if menu is not None else []:
            if action.text().replace("&", "") == text:
                return action
    raise AssertionError(f"no {text!r} in the window's menus")


def test_without_a_tray_cancelling_first_run_still_leaves_settings_in_the_window(qtbot: QtBot,
                                                                                 launch: Launch) -> None:
    app = launch(None)
    assert app.tray is None, "the offscreen platform has no system tray"
    qtbot.waitUntil(lambda: app.dialog is not None and app.dialog.isVisible(), timeout=5000)
    assert app.dialog is not None
    app.dialog.reject()  # the person cancels first-run enrollment
    assert not app.dialog.isVisible()
    window_action(app, "Settings…").trigger()
    qtbot.waitUntil(lambda: app.dialog is not None and app.dialog.isVisible(), timeout=2000)
    window_action(app, "About StaffPulse").trigger()
    assert app.about is not None and app.about.isVisible()
    shown = {label: value.text() for label, value in app.about.values.items()}
    assert shown["Signed in as"] == about_facts.NOT_ENROLLED
    assert shown["Server"] == "None chosen yet" and shown["Version"] == VERSION
    assert shown["Data folder"] == str(app.data_dir)
    with qtbot.waitSignal(app.finished, timeout=5000):
        window_action(app, "Quit StaffPulse").trigger()


def test_about_shows_the_servers_answer(qtbot: QtBot, server: ServerProcess, launch: Launch) -> None:
    manager = make_team(server).people[0]
    me = get(server, manager, "/api/v1/me").json()
    app = launch(manager)
    window_action(app, "About StaffPulse").trigger()
    assert app.about is not None
    qtbot.waitUntil(lambda: app.about is not None and "Team" in app.about.values, timeout=15_000)
    shown = {label: value.text() for label, value in app.about.values.items()}
    assert shown["Signed in as"] == f"{me['user']['name']} ({me['user']['login']})"
    assert shown["Role"] == "Manager" and shown["Team"] == me["team"]["name"]
    assert shown["This device"] == f"number {me['device_id']}" and me["device_id"] == manager.device_id
    assert shown["Time zone"] == me["user"]["time_zone"]
    assert shown["Server"] == server.url and shown["Version"] == VERSION
    # quitting while the live socket still connects waits out its attempt: let it finish first
    qtbot.waitUntil(lambda: app.link.state is LinkState.LIVE, timeout=15_000)


def test_about_is_not_clipped_at_150_percent(qtbot: QtBot, launch: Launch) -> None:
    """QT_SCALE_FACTOR=1.5 scales fonts and sizes alike; a font half as big again is the same test in-process."""
    app = launch(None)
    app.open_about()
    about = app.about
    assert about is not None
    font = QFont(about.font())
    font.setPointSizeF(font.pointSizeF() * 1.5)
    about.setFont(font)
    about.show_rows([(label, value.text()) for label, value in about.values.items()])
    qtbot.waitUntil(about.isVisible, timeout=2000)
    for label in about.findChildren(QLabel):
        if label.isVisible() and label.text():
            needed = label.heightForWidth(label.width()) if label.wordWrap() else label.sizeHint().height()
            assert label.height() >= needed, f"{label.text()!r} is cut off"
            if not label.wordWrap():
                assert label.width() >= label.sizeHint().width(), f"{label.text()!r} is cut off"
