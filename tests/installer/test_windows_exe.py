"""The Windows build, frozen under Wine by PyInstaller from build_windows.spec: what Explorer and IT's inventory
read from ``StaffPulse.exe`` (a windowed exe, its version resource from protocol/version.py, its icon). The exe's
self-test and everything it does run on the installed, signed product (test_installed_product_wine.py).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from installer import icon
from protocol.version import VERSION
from support.wine import WinePrefix, windows_path

PROBE = Path(__file__).with_name("pe_resources.py")


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

