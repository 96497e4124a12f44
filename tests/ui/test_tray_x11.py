"""The tray icon on a real X server (Xvfb) with a real tray host (trayer): it exists, it is minimised to the
tray at start, and its menu works — Sync Now calls through without blocking, Start break changes the state
(and the server is told), Open shows the window, closing the window keeps the app, a second launch's ``show``
arrives, and Quit stops the agent cleanly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support.processes import terminate
from support.servers import ServerProcess
from support.team import make_team
from support.xdisplay import start_tray_host, start_xvfb
from sync import control

ROOT = Path(__file__).resolve().parents[2]


def probe_env(display: str, token: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("WAYLAND_DISPLAY", "XDG_SESSION_TYPE")}
    return env | {"DISPLAY": display, "QT_QPA_PLATFORM": "xcb", "STAFFPULSE_PROBE_TOKEN": token,
                  "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}


@pytest.mark.x11
def test_tray_icon_and_menu(desktop_display: str, server: ServerProcess, tmp_path: Path) -> None:
    member = make_team(server).people[1]
    (tmp_path / "data").mkdir()
    done = subprocess.run([sys.executable, str(ROOT / "tests" / "ui" / "tray_probe.py"), str(tmp_path / "data"),
                           server.url], env=probe_env(desktop_display, member.token), capture_output=True,
                          text=True, timeout=90, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["tray_available"] and seen["has_tray"], seen
    assert seen["live"] and seen["icon_visible"] and seen["window_hidden_at_start"], seen
    assert seen["menu"][1:] == ["Sync Now", "Start break", "Open StaffPulse", "Settings…", "Quit"], seen
    assert seen["tooltip"].startswith("StaffPulse: "), seen
    assert seen["sync_trigger_ms"] < 50 and seen["sync_busy"] and seen["synced"], seen
    assert seen["sync_result"].startswith(("Up to date at ", "Sent ")), seen
    assert seen["on_break"] and seen["break_pushed"] and seen["break_action_after"] == "End break", seen
    assert seen["state_line"].startswith("Break since ") and "Break" in seen["tooltip_on_break"], seen
    assert seen["window_opened"] and seen["closed_keeps_running"] and seen["show_forwarded"], seen
    assert seen["quit_finished"] and seen["stopped"] and seen["control_closed"], seen


@pytest.mark.x11
def test_a_tray_host_started_later_gets_the_icon(server: ServerProcess, tmp_path: Path) -> None:
    """A desktop whose panel comes up after StaffPulse: the window opens first, the icon follows the tray."""
    xvfb, display = start_xvfb()
    tray_host: subprocess.Popen[bytes] | None = None
    (tmp_path / "data").mkdir()
    probe = subprocess.Popen([sys.executable, str(ROOT / "tests" / "ui" / "tray_probe.py"), str(tmp_path / "data"),
                              server.url, "--late"], env=probe_env(display, make_team(server).people[1].token),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert probe.stdout is not None
        assert probe.stdout.readline().strip() == "waiting", probe.stderr.read() if probe.stderr else ""
        tray_host = start_tray_host(display)
        out, err = probe.communicate(timeout=60)
    finally:
        for process in (probe, tray_host, xvfb):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(10)
    assert probe.returncode == 0, err[-3000:]
    seen = json.loads(out.strip().splitlines()[-1])
    assert not seen["tray_at_start"] and seen["window_at_start"], seen
    assert seen["tray_appeared"] and seen["window_kept"] and seen["stopped"], seen
    assert seen["seconds_to_appear"] < 15, seen


@pytest.mark.x11
def test_staffpulse_is_the_tray_app_once_per_user(desktop_display: str, tmp_path: Path) -> None:
    """The real entry point: ``staffpulse`` starts the tray app, a second launch shows its window and exits,
    and SIGTERM (as at logout) ends it cleanly through the Qt loop."""
    env = {k: v for k, v in os.environ.items() if k not in ("WAYLAND_DISPLAY", "XDG_SESSION_TYPE")}
    env |= {"DISPLAY": desktop_display, "QT_QPA_PLATFORM": "xcb", "STAFFPULSE_DATA_DIR": str(tmp_path / "data"),
            "STAFFPULSE_LOG_DIR": str(tmp_path / "logs"), "PYTHONPATH": str(ROOT)}
    settings = tmp_path / "data" / "settings.json"
    settings.parent.mkdir()
    settings.write_text('{"server_url": "http://127.0.0.1:9"}')  # configured but not enrolled: no dialog
    agent = subprocess.Popen([sys.executable, "-m", "staffpulse"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while control.send(tmp_path / "data", {"command": "status"}) is None:
            assert agent.poll() is None, agent.stderr.read() if agent.stderr else ""
            assert time.monotonic() < deadline, "the tray app did not start"
            time.sleep(0.1)
        second = subprocess.run([sys.executable, "-m", "staffpulse"], env=env, cwd=ROOT, capture_output=True,
                                text=True, timeout=60)
        assert (second.returncode, second.stdout.strip()) == (0, "staffpulse: already running; its window is shown")
    finally:
        code = terminate(agent)
        if agent.stderr:
            agent.stderr.close()
    assert code == 0
    log = (tmp_path / "logs" / "agent.log").read_text()
    assert "running headless" not in log and "quit requested" in log and "agent stopped" in log
