"""PySide6, the release's pin, runs under the Windows Python in Wine: QtCore, QtGui and QtWidgets import, a
QApplication starts on Qt's windows platform with a screen, ICU converts text through the prefix's stand-in
``icuuc.dll`` (tests/support/wine.py), and a window shows up on the X display as a window of ``python.exe``."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from pathlib import Path

from support.wine import WinePrefix, windows_path
from support.xdisplay import named_windows, window_class

PROBE = Path(__file__).with_name("qt_probe.py")


def wait_for_x_window(display: str, title: str, alive: subprocess.Popen[str], timeout: float = 30) -> list[int]:
    """The X windows called ``title``, once there is one; fails early if ``alive`` ended."""
    deadline = time.monotonic() + timeout
    while not (found := named_windows(display, title)):
        assert alive.poll() is None, alive.stderr.read() if alive.stderr else ""
        assert time.monotonic() < deadline, f"no X window named {title!r}"
        time.sleep(0.2)
    return found


def test_qt_widgets_run_on_the_windows_platform(wine: WinePrefix, tmp_path: Path) -> None:
    assert wine.display is not None
    title, done = f"qt-probe-{uuid.uuid4().hex[:8]}", tmp_path / "done"
    with wine.popen([wine.python_exe, windows_path(PROBE), title, windows_path(done)]) as probe:
        try:
            assert probe.stdout is not None
            line = probe.stdout.readline()
            assert line, probe.stderr.read() if probe.stderr else ""
            seen = json.loads(line)
            windows = wait_for_x_window(wine.display, title, probe)
            owner = window_class(wine.display, windows[0])
            done.touch()
            err = probe.communicate(timeout=60)[1]
        finally:
            if probe.poll() is None:
                probe.kill()
    assert probe.returncode == 0, err[-3000:]
    assert seen["qt"].startswith("6.") and seen["platform"] == "windows", seen
    assert len(seen["screens"]) == 1 and seen["screens"][0][0] >= 640, seen
    assert seen["shift_jis"] and "Shift_JIS" in seen["codecs"], "ICU's converters, through the stand-in icuuc.dll"
    assert len(seen["codecs"]) > 100, "ICU's data (icudt77.dll) names its converters"
    assert seen["window_visible"] and seen["window_id"], seen
    assert owner == ("python.exe", "python.exe"), owner
