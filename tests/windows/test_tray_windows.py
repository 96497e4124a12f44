"""The tray app under Wine, as a Windows user starts it: ``python -m staffpulse`` enrolled against the Linux test
server on loopback. Its icon shows in Wine's system tray (the "Wine System Tray" window explorer.exe puts on the
X display when no X tray host runs) in the colour of a live connection, and a second launch opens its window
through the control channel between the two Windows processes: a window of python.exe on the X display, which
is saved as a PNG (``STAFFPULSE_WINDOWS_SCREENSHOT`` names where, for docs/images/window-windows.png)."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtGui import QColor, QImage

from protocol.schema import PresenceState
from support.servers import ServerProcess, sqlite_server
from support.team import issue_code, make_team
from support.wine import WinePrefix, windows_path
from support.xdisplay import capture, named_windows, window_class
from ui.present import STATE_COLOURS

WINE_TRAY = "Wine System Tray"
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


def wait_for(what: str, condition: Callable[[], object], agent: subprocess.Popen[str], timeout: float) -> None:
    """Poll ``condition`` until it holds; fail with the agent's output if it died or time ran out."""
    deadline = time.monotonic() + timeout
    while not condition():
        if agent.poll() is not None:
            pytest.fail(f"the agent ended ({agent.returncode}) before {what}: {agent.communicate()[1][-3000:]}")
        assert time.monotonic() < deadline, f"waited {timeout} s for {what}"
        time.sleep(0.3)


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
            wait_for("an icon in Wine's tray", lambda: named_windows(display, WINE_TRAY), agent, 60)
            tray = named_windows(display, WINE_TRAY)[0]
            assert window_class(display, tray) == ("explorer.exe", "explorer.exe")
            wait_for("a live icon", lambda: LIVE_COLOURS & colours(screenshot(display, tray)), agent, 60)
            assert not named_windows(display, "StaffPulse"), "minimised to the tray at start"

            again = wine.python(["-m", "staffpulse"], env=env, timeout=60)
            assert (again.returncode, again.stdout.strip()) == (0, "staffpulse: already running; its window is shown")
            wait_for("the window", lambda: named_windows(display, "StaffPulse"), agent, 30)
            window = named_windows(display, "StaffPulse")[0]
            assert window_class(display, window) == ("python.exe", "python.exe")
            image = screenshot(display, window)
        finally:
            wine.close()  # the agent and everything else in the prefix; Quit is tested on Linux (test_tray_x11)
    image.save(str(tmp_path / "window-windows.png"))
    if target := os.environ.get("STAFFPULSE_WINDOWS_SCREENSHOT"):
        image.save(target)
    assert image.width() >= 600 and image.height() >= 400, "the window at its normal size"
    assert len(colours(image)) > 20, "a blank or nearly blank window"
    assert "running headless" not in (logs / "agent.log").read_text(encoding="utf-8")
