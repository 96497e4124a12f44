"""The self-test's Qt check (``staffpulse.selftest`` runs it last): the platform plugin loads and the tray icon draws.

It lives in ui/ because only ui/ imports Qt. Qt aborts the process when the platform plugin cannot load, so
the caller prints the line before this runs and the exit status says the rest.
"""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QApplication

from protocol.schema import PresenceState
from sync.selftest import Check
from ui.icons import dot_icon
from ui.present import STATE_COLOURS


def qt_platform_check() -> Check:
    """Which platform plugin loaded (xcb, windows, cocoa), and that the tray icon draws with it."""
    app = QApplication.instance() or QApplication(sys.argv[:1])  # loads the platform plugin, or aborts
    name = QApplication.platformName()
    sizes = dot_icon(STATE_COLOURS[PresenceState.ACTIVE]).availableSizes()
    screens = len(QApplication.screens())
    ok = bool(name) and bool(sizes) and screens > 0
    detail = f"{name}, {screens} screen(s), tray icon {len(sizes)} sizes"
    del app  # the self-test ends the process next; nothing else uses Qt
    return Check("Qt platform plugin", ok, detail)
