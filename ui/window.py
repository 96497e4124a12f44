"""The StaffPulse window: a header (own state, connection badge, last update) over the Team, Me and Sync tabs.

Closing it only hides it: the agent keeps running in the tray (Quit is in the tray menu).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMainWindow, QTabWidget, QVBoxLayout, QWidget

from ui.tabs import MeTab, SyncTab, TeamTab


class MainWindow(QMainWindow):
    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("StaffPulse")
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
