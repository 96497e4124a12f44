"""``staffpulse`` without ``--headless``: the tray app where there is a display, headless (saying why) where
there is none, and a second launch that forwards to the running agent instead of starting another."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from staffpulse.cli import _no_gui_reason
from support.processes import terminate
from sync import control

ROOT = Path(__file__).resolve().parents[2]


def test_the_gui_needs_a_display_on_linux_only() -> None:
    assert "no display" in (_no_gui_reason({}, "linux") or "")
    assert _no_gui_reason({"DISPLAY": ":0"}, "linux") is None
    assert _no_gui_reason({"WAYLAND_DISPLAY": "wayland-0"}, "linux") is None
    assert _no_gui_reason({}, "win32") is None and _no_gui_reason({}, "darwin") is None


def test_without_a_display_it_runs_headless_and_says_so(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env |= {"STAFFPULSE_DATA_DIR": str(tmp_path / "data"), "STAFFPULSE_LOG_DIR": str(tmp_path / "logs"),
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
    agent = subprocess.Popen([sys.executable, "-m", "staffpulse"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        log = tmp_path / "logs" / "agent.log"
        deadline = time.monotonic() + 20
        while control.send(tmp_path / "data", {"command": "status"}) is None:
            assert agent.poll() is None and time.monotonic() < deadline, "the agent did not start"
            time.sleep(0.1)
        assert "no display (neither DISPLAY nor WAYLAND_DISPLAY is set); running headless" in log.read_text()
        second = subprocess.run([sys.executable, "-m", "staffpulse"], env=env, cwd=ROOT, capture_output=True,
                                text=True, timeout=60)
        assert second.returncode == 1 and "already running" in second.stderr, "headless: no window to show"
    finally:
        assert terminate(agent) == 0
