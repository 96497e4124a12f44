"""The self-test's Qt check (``staffpulse.selftest`` runs it last): the platform plugin loads, the tray icon
draws, and there is a system tray to show it in (without one StaffPulse falls back to its window, which is no
way to run an agent that lives in the tray, so the check fails).

It lives in ui/ because only ui/ imports Qt. Qt aborts the process when the platform plugin cannot load, so
the caller prints the line before this runs and the exit status says the rest.
"""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QApplication

from protocol.schema import PresenceState
from sync.selftest import Check
from ui.icons import mark_icon
from ui.present import STATE_COLOURS
from ui.tray import system_tray_available


def qt_platform_check() -> Check:
    """Which platform plugin loaded (xcb, windows, cocoa), that the tray icon draws with it, and whether there
    is a system tray (``ui.tray.system_tray_available``)."""
    app = QApplication.instance() or QApplication(sys.argv[:1])  # loads the platform plugin, or aborts
    name = QApplication.platformName()
    sizes = mark_icon(STATE_COLOURS[PresenceState.ACTIVE]).availableSizes()
    screens = len(QApplication.screens())
    tray = system_tray_available()
    ok = bool(name) and bool(sizes) and screens > 0 and tray
    found = "system tray found" if tray else "no system tray"
    detail = f"{name}, {screens} screen(s), tray icon {len(sizes)} sizes, {found}"
    del app  # the self-test ends the process next; nothing else uses Qt
    return Check("Qt platform plugin", ok, detail)
