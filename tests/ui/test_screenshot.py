"""``scripts/screenshot``'s code path: a demo server, the window as a manager sees it, saved as a PNG."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QApplication

from protocol.schema import PresenceState
from support.xdisplay import need_tool
from ui.present import STATE_COLOURS

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.x11
def test_the_screenshot_is_the_window_with_the_demo_team(qapp: QApplication, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "XDG_SESSION_TYPE")}
    out = tmp_path / "window.png"
    done = subprocess.run([need_tool("xvfb-run"), "--auto-servernum", "--server-args=-screen 0 1280x1024x24",
                           "env", "QT_QPA_PLATFORM=xcb", sys.executable, "scripts/screenshot.py", "--out", str(out)],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    told = json.loads(done.stdout.strip().splitlines()[-1])
    image = QImage(str(out))
    assert not image.isNull() and (image.width(), image.height()) == (told["width"], told["height"])
    assert image.width() >= 600 and image.height() >= 400, "the window at its normal size"
    colours = {image.pixelColor(x, y).name() for x in range(0, image.width(), 3) for y in range(0, image.height(), 3)}
    assert len(colours) > 20, "a blank or nearly blank picture"
    for state in (PresenceState.ACTIVE, PresenceState.BREAK, PresenceState.IDLE):  # the demo team's dots
        assert QColor(STATE_COLOURS[state]).name() in colours, f"no {state} dot in the picture"
