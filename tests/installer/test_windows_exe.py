"""The Windows build, frozen under Wine by PyInstaller from build_windows.spec: what Explorer and IT's inventory
read from ``StaffPulse.exe`` (a windowed exe, its version resource from protocol/version.py, its icon), and its
``--self-test`` run under Wine naming the Win32 backends it found.

Qt under Wine 8 depends on a system ICU (``icuuc.dll``) that Wine lacks; until the prefix provides one, Qt cannot
load. The self-test must then fail and name the DLL load failure, and once Qt loads it must pass: the test holds
the report to whether PySide6 loads for the Windows Python in the same kind of prefix (``qt_blocked_under_wine``).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from installer import icon
from protocol.version import VERSION
from support.wine import WinePrefix, windows_path

PROBE = Path(__file__).with_name("pe_resources.py")
WIN32_LINES = ("ok   input backend: low-level hooks WH_KEYBOARD_LL/WH_MOUSE_LL (pynput.keyboard._win32, "
               "pynput.mouse._win32)", "ok   idle backend: GetLastInputInfo (WindowsIdle) answers: idle ",
               "ok   keyring backend: keyring.backends.Windows.WinVaultKeyring", "ok   websocket transport: ")


def test_exe_is_windowed_with_the_version_and_the_icon(frozen_windows: Path, wine: WinePrefix) -> None:
    done = wine.python([windows_path(PROBE), windows_path(frozen_windows / "StaffPulse.exe")])
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout)
    assert found["subsystem"] == "IMAGE_SUBSYSTEM_WINDOWS_GUI", "windowed: no console behind the tray app"
    strings = found["strings"]
    assert strings["FileVersion"] == strings["ProductVersion"] == VERSION
    assert (strings["ProductName"], strings["OriginalFilename"]) == ("StaffPulse", "StaffPulse.exe")
    assert found["file_version"] == [*map(int, VERSION.split(".")), 0][:4]
    assert found["icon_groups"] == 1
    drawn = sorted(hashlib.sha256(icon.png(size)).hexdigest() for size in icon.ICO_SIZES)
    assert found["icons"] == drawn, "the exe carries installer/icon.py's images, every size"


def test_qt_platform_plugin_is_frozen_in_when_qt_loads_at_freeze_time(frozen_windows: Path,
                                                                       qt_blocked_under_wine: str | None) -> None:
    """PyInstaller's PySide6 hook finds Qt's plugins by importing QtCore in the freezing Python; where that cannot
    load (Wine 8 without an ICU shim) it only warns, and the exe ships without a platform plugin."""
    plugin = frozen_windows / "_internal" / "PySide6" / "plugins" / "platforms" / "qwindows.dll"
    assert plugin.is_file() == (qt_blocked_under_wine is None), qt_blocked_under_wine


def test_self_test_under_wine_names_the_win32_backends(frozen_windows: Path, wine: WinePrefix, tmp_path: Path,
                                                       qt_blocked_under_wine: str | None) -> None:
    report = tmp_path / "self-test.txt"
    done = wine.run([windows_path(frozen_windows / "StaffPulse.exe"), "--self-test", windows_path(report)],
                    timeout=120)
    lines = report.read_text(encoding="utf-8").splitlines()
    for line, expected in zip(lines, WIN32_LINES, strict=False):
        assert line.startswith(expected), lines
    checks = lines[:-1]
    if qt_blocked_under_wine is None:
        assert any(line.startswith("ok   Qt platform plugin: windows,") for line in checks), lines
        assert (done.returncode, lines[-1]) == (0, "self-test passed"), lines
    else:
        assert "DLL load failed" in qt_blocked_under_wine, qt_blocked_under_wine
        failed = [line for line in checks if not line.startswith("ok   ")]
        assert len(failed) == 1 and failed[0].startswith("FAIL Qt platform plugin: Qt cannot load: "), lines
        assert "DLL load failed" in failed[0], lines
        assert (done.returncode, lines[-1]) == (1, f"self-test failed: 1 of {len(checks)} checks"), lines
