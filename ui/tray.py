"""The tray icon and its menu. It only shows and offers: what the actions do is wired by ``ui.app``.

``system_tray_available`` is the one answer to "is there a tray to put the icon in", for the app and the
self-test. Qt's answer is right on X11 (a tray host owns the ``_NET_SYSTEM_TRAY`` selection) and Wayland, but
its windows platform always says yes; there the notification area is part of the shell's taskbar window,
``Shell_TrayWnd``, which is missing when no shell runs (a service session, Server Core, a shell replaced by
kiosk software), so that is what is asked on Windows.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from ui.icons import mark_icon
from ui.present import TrayLook


def system_tray_available() -> bool:
    if sys.platform == "win32":
        import ctypes

        available = bool(ctypes.windll.user32.FindWindowW("Shell_TrayWnd", None))
    else:
        available = QSystemTrayIcon.isSystemTrayAvailable()
    return available


class Tray(QObject):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.menu = QMenu()
        self.state_action = self.menu.addAction("Starting…")
        self.state_action.setEnabled(False)  # a line to read, not a command
        self.menu.addSeparator()
        self.sync_action = self.menu.addAction("Sync Now")
        self.break_action = self.menu.addAction("Start break")
        self.pause_action = self.menu.addAction("Pause tracking")
        self.pause_action.setVisible(False)  # only once the team's policy is known to allow it
        self.menu.addSeparator()
        self.open_action = self.menu.addAction("Open StaffPulse")
        self.settings_action = self.menu.addAction("Settings…")
        self.menu.addSeparator()
        self.quit_action: QAction = self.menu.addAction("Quit")
        self.icon = QSystemTrayIcon(mark_icon(TrayLook.OFFLINE.colour), self)
        self.icon.setContextMenu(self.menu)
        self._tooltip = "StaffPulse"
        self.icon.setToolTip(self._tooltip)

    def show(self) -> None:
        self.icon.show()
        self.icon.setToolTip(self._tooltip)  # Windows 11 drops a tooltip set before the icon was shown

    def hide(self) -> None:
        self.icon.hide()

    def update(self, look: TrayLook, state_line: str, tooltip: str, *, on_break: bool, paused: bool = False,
               pause_allowed: bool = False) -> None:
        self.icon.setIcon(mark_icon(look.colour))
        self.state_action.setText(state_line)
        self.break_action.setText("End break" if on_break else "Start break")
        self.break_action.setEnabled(not paused)  # a break is tracked time: resume first
        self.pause_action.setText("Resume tracking" if paused else "Pause tracking")
        self.pause_action.setVisible(pause_allowed or paused)  # resuming is always possible
        self._tooltip = tooltip
        self.icon.setToolTip(tooltip)

    def notify(self, title: str, text: str) -> None:
        self.icon.showMessage(title, text, QSystemTrayIcon.MessageIcon.Information, 8000)
