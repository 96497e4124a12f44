"""The window's Me and Sync tabs: the reader's own day, and syncing (with exactly what is sent). The Team tab is
``ui.dashboard``."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QFormLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from protocol.schema import Totals
from ui import present
from ui.charts import HourlyChart
from ui.timeline import Legend, TimelineStrip


class MeTab(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.active, self.idle, self.breaks, self.activity = QLabel("—"), QLabel("—"), QLabel("—"), QLabel("—")
        self.strip = TimelineStrip()
        self.chart = HourlyChart()
        form = QFormLayout()
        form.addRow("Active today:", self.active)
        form.addRow("Idle:", self.idle)
        form.addRow("Breaks:", self.breaks)
        form.addRow("Activity:", self.activity)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(QLabel("Today"))
        layout.addWidget(self.strip)
        layout.addWidget(Legend())
        layout.addWidget(QLabel("Active minutes per hour"))
        layout.addWidget(self.chart)
        layout.addStretch()

    def show_totals(self, totals: Totals) -> None:
        self.active.setText(present.duration(totals.active_s))
        self.idle.setText(present.duration(totals.idle_s))
        self.breaks.setText(present.duration(totals.break_s))
        self.activity.setText(present.percent(totals.activity_pct))


class SyncTab(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.button = QPushButton("Sync Now")
        self.result = QLabel("Not synced yet")
        self.result.setWordWrap(True)  # after Sync Now it also says when the minute in progress follows
        self.pending = QLabel("—")
        self.error = QLabel("none")
        self.error.setWordWrap(True)
        self.payload = QPlainTextEdit()
        self.payload.setReadOnly(True)
        form = QFormLayout()
        form.addRow(self.button, self.result)
        form.addRow("Waiting to send:", self.pending)
        form.addRow("Last error:", self.error)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        what = QLabel("What is sent: the next upload, exactly as it leaves this computer. Only counts and seconds "
                      "per minute — never which keys, never text, never window titles.")
        what.setWordWrap(True)  # unwrapped, this one sentence held the window at 976 px
        layout.addWidget(what)
        layout.addWidget(self.payload)

    def set_busy(self, busy: bool) -> None:
        self.button.setEnabled(not busy)
        self.button.setText("Syncing…" if busy else "Sync Now")
