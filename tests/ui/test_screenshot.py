"""``scripts/screenshot``'s code path: a demo server with a seeded month, every tab of the window for a member
and a manager, in the light and the dark palette, each saved as a PNG."""

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
from scripts import screenshot  # the script's own names for the pictures
from support.xdisplay import need_tool
from ui.palettes import DARK, LIGHT
from ui.present import STATE_COLOURS
from ui.window import MainWindow

ROOT = Path(__file__).resolve().parents[2]


def colours(image: QImage) -> set[str]:
    return {image.pixelColor(x, y).name() for x in range(0, image.width(), 3) for y in range(0, image.height(), 3)}


def lightness(image: QImage) -> float:
    """The picture's mean lightness, 0-255, over a coarse grid."""
    values = [image.pixelColor(x, y).lightness() for x in range(0, image.width(), 7)
              for y in range(0, image.height(), 7)]
    return sum(values) / len(values)


@pytest.mark.x11
def test_the_screenshots_are_every_tab_for_both_roles_in_both_palettes(qapp: QApplication, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "XDG_SESSION_TYPE")}
    done = subprocess.run([need_tool("xvfb-run"), "--auto-servernum", "--server-args=-screen 0 1280x1024x24",
                           "env", "QT_QPA_PLATFORM=xcb", sys.executable, "scripts/screenshot.py",
                           "--out-dir", str(tmp_path)],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    told = [json.loads(line) for line in done.stdout.strip().splitlines()]
    window = MainWindow()  # the tabs the window has now, whoever added them
    tabs = [window.tabs.tabText(index) for index in range(window.tabs.count())]
    window.deleteLater()
    expected = {screenshot.picture_name(tab, role, theme) for tab in tabs for role in ("member", "manager")
                for theme in ("light", "dark")}
    assert {Path(shot["path"]).name for shot in told} == expected
    assert {path.name for path in tmp_path.glob("*.png")} == expected, "one picture per tab, role and palette"
    history = [shot for shot in told if screenshot.slug(shot["tab"]) == "history"]
    assert len(history) == 4, "the History tab for both roles in both palettes"
    assert not [shot for shot in history if shot["history_status"].startswith("Reading")], (
        "a History picture taken while its read was in flight")
    images = {Path(shot["path"]).name: QImage(shot["path"]) for shot in told}
    for shot in told:
        image = images[Path(shot["path"]).name]
        assert not image.isNull() and (image.width(), image.height()) == (shot["width"], shot["height"])
        assert image.width() >= 600 and image.height() >= 400, "the window at its normal size"
        assert len(colours(image)) > 20, f"{shot['path']} is blank or nearly so"
    for tab in tabs:
        for role in ("member", "manager"):
            light = images[screenshot.picture_name(tab, role, "light")]
            dark = images[screenshot.picture_name(tab, role, "dark")]
            assert lightness(light) - lightness(dark) > 80, f"{tab} ({role}): the dark picture is not dark"
            assert QColor(LIGHT.window).name() in colours(light) and QColor(DARK.window).name() in colours(dark)
    team = colours(images[screenshot.picture_name("Team", "manager", "light")])
    for state in (PresenceState.ACTIVE, PresenceState.BREAK, PresenceState.IDLE):  # the demo team's dots
        assert QColor(STATE_COLOURS[state]).name() in team, f"no {state} dot in the picture"
    me = colours(images[screenshot.picture_name("Me", "member", "dark")])
    assert DARK.active in me, "the member's seeded day in the Me tab's chart, in the dark palette's green"


def test_picture_names_come_from_tab_titles() -> None:
    assert screenshot.picture_name("&History", "manager", "dark") == "window-history-manager-dark.png"
    assert screenshot.slug("Sync && upload") == "sync-upload"
