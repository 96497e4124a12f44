"""PySide6, the release's pin, runs under the Windows Python in Wine: QtCore, QtGui and QtWidgets import, a
QApplication starts on Qt's windows platform with a screen, ICU's converters answer through the prefix's
stand-in ``icuuc.dll`` (tests/support/wine.py), and a window shows up on the X display as a window of
``python.exe``. The self-test's Qt check passes there, where Wine's explorer provides the shell's tray, and
fails on the same display with explorer disabled, where there is no tray."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from support.wine import WINE_ENV, WinePrefix, windows_path
from support.wine_desktop import wait_until
from support.xdisplay import named_windows, window_class

PROBE = Path(__file__).with_name("qt_probe.py")


def test_qt_widgets_run_on_the_windows_platform(wine: WinePrefix, tmp_path: Path) -> None:
    assert wine.display is not None
    title, done = f"qt-probe-{uuid.uuid4().hex[:8]}", tmp_path / "done"
    with wine.popen([wine.python_exe, windows_path(PROBE), title, windows_path(done)]) as probe:
        try:
            assert probe.stdout is not None
            line = probe.stdout.readline()
            assert line, probe.stderr.read() if probe.stderr else ""
            seen = json.loads(line)
            display = wine.display
            windows = wait_until(lambda: named_windows(display, title), f"an X window named {title!r}",
                                 pause=0.2, process=probe)
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


QT_CHECK = "Qt platform plugin: windows, 1 screen(s), tray icon 6 sizes"


def test_self_test_passes_with_wines_tray(wine: WinePrefix) -> None:
    done = wine.python(["-m", "staffpulse", "--self-test"])
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert f"ok   {QT_CHECK}, system tray found" in done.stdout, done.stdout
    assert "WinVaultKeyring" in done.stdout and "WindowsIdle" in done.stdout and "_win32" in done.stdout


def test_self_test_fails_on_a_display_without_the_shells_tray(wine: WinePrefix, tmp_path: Path) -> None:
    """The same display as the passing run, with Wine's explorer disabled, as a session without the Explorer
    shell (a kiosk shell): Qt runs on its windows platform with a screen, but there is no ``Shell_TrayWnd``. A
    prefix of its own, since explorer already runs for ``wine``'s."""
    no_shell = WinePrefix.fresh(tmp_path / "prefix", display=wine.display)
    try:
        done = no_shell.python(["-m", "staffpulse", "--self-test"],
                               env={"WINEDLLOVERRIDES": f"{WINE_ENV['WINEDLLOVERRIDES']};explorer.exe=d"})
    finally:
        no_shell.close()
    assert done.returncode == 1, done.stdout + done.stderr[-3000:]
    assert f"FAIL {QT_CHECK}, no system tray" in done.stdout, done.stdout
    assert done.stdout.splitlines()[-1] == "self-test failed: 1 of 5 checks", done.stdout
