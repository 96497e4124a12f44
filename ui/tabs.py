"""The window's three tabs: the team, the reader's own day, and syncing (with exactly what is sent)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from protocol.schema import Totals
from ui import present
from ui.charts import HourlyChart
from ui.team_table import TeamTableModel


class TeamTab(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = TeamTableModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.empty = QLabel("The team appears here once this device is enrolled and connected.")
        layout = QVBoxLayout(self)
        layout.addWidget(self.empty)
        layout.addWidget(self.table)


class MeTab(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.active, self.idle, self.breaks, self.activity = QLabel("—"), QLabel("—"), QLabel("—"), QLabel("—")
        self.chart = HourlyChart()
        form = QFormLayout()
        form.addRow("Active today:", self.active)
        form.addRow("Idle:", self.idle)
        form.addRow("Breaks:", self.breaks)
        form.addRow("Activity:", self.activity)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(QLabel("Active minutes per hour (darker: minutes with input)"))
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
        layout.addWidget(QLabel("What is sent: the next upload, exactly as it leaves this computer. Only counts "
                                "and seconds per minute — never which keys, never text, never window titles."))
        layout.addWidget(self.payload)

    def set_busy(self, busy: bool) -> None:
        self.button.setEnabled(not busy)
        self.button.setText("Syncing…" if busy else "Sync Now")
