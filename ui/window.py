"""The StaffPulse window: a header (own state, connection badge, last update) over the Team, Me, History and Sync tabs.

Closing it only hides it: the agent keeps running in the tray (Quit is in the tray menu). Its own StaffPulse
menu reaches Settings, About and Quit as well, because without a system tray the window is the only way in.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMainWindow, QTabWidget, QVBoxLayout, QWidget

from ui.dashboard import TeamTab
from ui.history_tab import HistoryTab
from ui.tabs import MeTab, SyncTab


class MainWindow(QMainWindow):
    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("StaffPulse")
        menu = self.menuBar().addMenu("&StaffPulse")
        self.settings_action = menu.addAction("&Settings…")
        self.about_action = menu.addAction("&About StaffPulse")
        menu.addSeparator()
        self.quit_action = menu.addAction("&Quit StaffPulse")
        self.notice = QLabel()
        self.notice.setWordWrap(True)
        self.notice.setTextFormat(Qt.TextFormat.PlainText)  # notices quote names the server relays: never markup
        self.notice.hide()
        self.own_state = QLabel("Starting…")
        self.badge = QLabel("Offline")
        self.updated = QLabel("")
        header = QHBoxLayout()
        header.addWidget(self.own_state)
        header.addStretch()
        header.addWidget(self.badge)
        header.addWidget(self.updated)
        self.team, self.me, self.sync = TeamTab(), MeTab(), SyncTab()
        self.tabs = QTabWidget()
        self.tabs.addTab(self.team, "Team")
        self.tabs.addTab(self.me, "Me")
        self.history = HistoryTab()
        self.tabs.addTab(self.history, "History")
        self.tabs.addTab(self.sync, "Sync")
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.addWidget(self.notice)
        layout.addLayout(header)
        layout.addWidget(self.tabs)
        self.setCentralWidget(body)
        self.resize(640, 460)

    def show_notice(self, text: str) -> None:
        self.notice.setText(text)
        self.notice.show()

    def clear_notice(self, text: str) -> None:
        """Hide the notice if it still says ``text`` (a newer one stays)."""
        if self.notice.text() == text:
            self.notice.hide()

    def bring_up(self) -> None:
        self.showNormal()
        self.raise_()
        self.activateWindow()

    def closeEvent(self, event: QCloseEvent) -> None:
        event.ignore()
        self.hide()
