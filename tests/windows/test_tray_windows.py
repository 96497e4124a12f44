"""The tray app under Wine, as a Windows user starts it: ``python -m staffpulse`` enrolled against the Linux test
server on loopback. Its icon shows in Wine's system tray (the "Wine System Tray" window explorer.exe puts on the
X display when no X tray host runs) in the colour of a live connection, and a second launch opens its window
through the control channel between the two Windows processes: a window of python.exe on the X display, which
is saved as a PNG (``STAFFPULSE_WINDOWS_SCREENSHOT`` names where, for docs/images/window-windows.png)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import Xlib.error
from PySide6.QtGui import QColor, QImage

from protocol.schema import PresenceState
from support.servers import ServerProcess, sqlite_server
from support.team import issue_code, make_team
from support.wine import WinePrefix, windows_path
from support.wine_desktop import WINE_TRAY, wait_until
from support.xdisplay import capture, named_windows, window_class
from ui.present import STATE_COLOURS

# A live connection shows the own state (Wine's idle time may already be past the threshold at start); not
# connected is grey, a failed upload red.
LIVE_COLOURS = {QColor(STATE_COLOURS[state]).name() for state in (PresenceState.ACTIVE, PresenceState.IDLE)}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with sqlite_server(tmp_path_factory.mktemp("wine-tray-server")) as process:
        yield process


def screenshot(display: str, window: int) -> QImage:
    width, height, pixels = capture(display, window)
    return QImage(pixels, width, height, width * 4, QImage.Format.Format_RGB32).copy()  # owns its pixels


def colours(image: QImage) -> set[str]:
    return {image.pixelColor(x, y).name() for x in range(image.width()) for y in range(image.height())}


def painted(display: str, name: str) -> tuple[int, QImage] | None:
    """The window called ``name`` and what it shows, once it shows more than a blank or nearly blank area: Wine
    maps a window before Qt has painted it, and may replace the X window meanwhile."""
    for window in named_windows(display, name):
        try:
            image = screenshot(display, window)
        except Xlib.error.BadWindow:  # replaced between the listing and the capture
            continue
        if len(colours(image)) > 20:
            return window, image
    return None


def test_tray_app_shows_its_icon_and_window(wine: WinePrefix, server: ServerProcess, tmp_path: Path) -> None:
    assert wine.display is not None
    display = wine.display
    person = make_team(server).people[1]
    data, logs = tmp_path / "data", tmp_path / "logs"
    env = {"STAFFPULSE_DATA_DIR": windows_path(data), "STAFFPULSE_LOG_DIR": windows_path(logs)}
    enrolled = wine.python(["-m", "staffpulse", "enroll", "--server", server.url, "--code",
                            issue_code(server, person.login), "--device-name", "wine-pc"], env=env)
    assert enrolled.returncode == 0, enrolled.stdout + enrolled.stderr[-3000:]

    with wine.popen([wine.python_exe, "-m", "staffpulse"], env=env) as agent:
        try:
            tray = wait_until(lambda: named_windows(display, WINE_TRAY), "an icon in Wine's tray", process=agent)[0]
            assert window_class(display, tray) == ("explorer.exe", "explorer.exe")
            wait_until(lambda: LIVE_COLOURS & colours(screenshot(display, tray)), "a live icon", pause=0.3,
                       process=agent)
            assert not named_windows(display, "StaffPulse"), "minimised to the tray at start"

            again = wine.python(["-m", "staffpulse"], env=env, timeout=60)
            assert (again.returncode, again.stdout.strip()) == (0, "staffpulse: already running; its window is shown")
            window, image = wait_until(lambda: painted(display, "StaffPulse"), "the window, painted", 30,
                                       process=agent)
            assert window_class(display, window) == ("python.exe", "python.exe")
        finally:
            wine.close()  # the agent and everything else in the prefix; Quit is tested on Linux (test_tray_x11)
    image.save(str(tmp_path / "window-windows.png"))
    if target := os.environ.get("STAFFPULSE_WINDOWS_SCREENSHOT"):
        image.save(target)
    assert image.width() >= 600 and image.height() >= 400, "the window at its normal size"
    assert "running headless" not in (logs / "agent.log").read_text(encoding="utf-8")
