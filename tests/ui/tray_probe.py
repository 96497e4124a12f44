"""Runs the tray app on a real X display with a tray host and drives its menu; prints what it saw as JSON.

A subprocess of ``test_tray_x11.py``: the pytest process already has its one QApplication on the offscreen
platform, and a tray icon needs the xcb platform. Usage: ``tray_probe.py DATA_DIR SERVER_URL [--late]`` with
the device token in ``$STAFFPULSE_PROBE_TOKEN``. With ``--late`` there is no tray host yet: the probe prints
``waiting`` once the app runs in its window, and the test starts the tray host then.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keyring
from PySide6.QtWidgets import QApplication, QSystemTrayIcon

from agent.assembly import Sampler
from protocol.schema import PresenceState
from support.keyrings import FileKeyring
from sync import control
from sync.credentials import CredentialStore
from sync.live import LinkState
from sync.settings import AgentSettings, save
from ui.app import TrayApp

TESTS = Path(__file__).resolve().parents[1]


def wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        QApplication.processEvents()
        if condition():
            return True
        time.sleep(0.01)
    return False


def make_app(data_dir: Path, server_url: str, seen: dict[str, Any]) -> TrayApp:
    """An enrolled agent's tray app, not started; ``seen`` gets whether Qt found a tray when it began."""
    # the app's keyring child processes (sync.credentials) share this keyring through the environment
    os.environ |= {"PYTHON_KEYRING_BACKEND": "support.keyrings.FileKeyring",
                   "STAFFPULSE_TEST_KEYRING": str(data_dir.parent / "probe-keyring.json"),
                   "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    keyring.set_keyring(FileKeyring())
    CredentialStore().save(server_url, os.environ["STAFFPULSE_PROBE_TOKEN"])
    settings = AgentSettings(server_url=server_url)
    save(data_dir, settings)
    qt = QApplication([])  # PySide keeps the one instance alive (QApplication.instance())
    qt.setQuitOnLastWindowClosed(False)
    seen["tray_available"] = QSystemTrayIcon.isSystemTrayAvailable()

    def sampler(on_change: Callable[..., None]) -> Sampler:
        return Sampler.open(data_dir, idle_threshold=300, on_change=on_change)

    return TrayApp(data_dir, settings, sampler)


def main(data_dir: Path, server_url: str) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    app = make_app(data_dir, server_url, seen)
    finished: list[bool] = []
    app.finished.connect(lambda: finished.append(True))
    app.start()
    seen["has_tray"] = app.tray is not None
    if app.tray is None:
        return seen
    tray = app.tray
    seen["live"] = wait_until(lambda: app.link.state is LinkState.LIVE and app.sync_status.last_attempt is not None,
                              15)
    seen["icon_visible"] = tray.icon.isVisible() and not tray.icon.geometry().isEmpty()
    seen["window_hidden_at_start"] = not app.window.isVisible()
    seen["menu"] = [action.text() for action in tray.menu.actions() if action.text() and action.isVisible()]
    seen["tooltip"] = tray.icon.toolTip()

    before = app.sync_status
    started = time.perf_counter()
    tray.sync_action.trigger()
    seen["sync_trigger_ms"] = (time.perf_counter() - started) * 1000
    seen["sync_busy"] = not app.window.sync.button.isEnabled()
    seen["synced"] = wait_until(lambda: app.sync_status is not before, 10)
    seen["sync_result"] = app.window.sync.result.text()

    tray.break_action.trigger()
    seen["on_break"] = wait_until(lambda: app.own_state is PresenceState.BREAK, 5)
    connected = app.service.connected if app.service is not None else None
    seen["break_pushed"] = connected is not None and wait_until(
        lambda: connected.pusher.status.sent is not None and connected.pusher.status.sent.state == "break", 5)
    seen["break_action_after"] = tray.break_action.text()
    seen["state_line"] = tray.state_action.text()
    seen["tooltip_on_break"] = tray.icon.toolTip()

    tray.open_action.trigger()
    seen["window_opened"] = wait_until(app.window.isVisible, 2)
    app.window.close()
    seen["closed_keeps_running"] = not app.window.isVisible() and tray.icon.isVisible()

    answers: list[dict[str, Any] | None] = []
    asking = threading.Thread(target=lambda: answers.append(control.send(data_dir, {"command": "show"})))
    asking.start()  # as a second ``staffpulse`` would; answered on the control thread, shown on this one
    seen["show_forwarded"] = wait_until(lambda: app.window.isVisible() and bool(answers), 5) and answers[0] == {
        "ok": True}
    asking.join()

    tray.quit_action.trigger()
    seen["quit_finished"] = wait_until(lambda: bool(finished), 2)
    seen["stopped"] = app.wait_stopped(30)
    seen["control_closed"] = control.send(data_dir, {"command": "status"}) is None
    return seen


def late(data_dir: Path, server_url: str) -> dict[str, Any]:
    """No tray at start: the window opens; once a tray host appears, the icon does, and the window stays."""
    app = make_app(data_dir, server_url, {})
    app.start()
    seen: dict[str, Any] = {"tray_at_start": app.tray is not None,
                            "window_at_start": wait_until(app.window.isVisible, 5)}
    print("waiting", flush=True)
    started = time.monotonic()
    seen["tray_appeared"] = wait_until(lambda: app.tray is not None and app.tray.icon.isVisible()
                                       and not app.tray.icon.geometry().isEmpty(), 20)
    seen["seconds_to_appear"] = time.monotonic() - started
    seen["window_kept"] = app.window.isVisible()
    app.quit()
    seen["stopped"] = app.wait_stopped(30)
    return seen


if __name__ == "__main__":
    probe = late if sys.argv[3:] == ["--late"] else main
    print(json.dumps(probe(Path(sys.argv[1]), sys.argv[2])))
