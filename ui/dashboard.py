"""The Team tab, "Today, live": a search box, the team's table (state with duration, the day's strip, last
seen; for managers active time, activity and breaks), sortable by any column, the team's totals under it and
the strip's legend. Greyed with "as of HH:MM" while the view is not live.

It only shows what it is given (``show``): ``ui.app.TrayApp`` builds the rows with ``ui.day_view``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from protocol.schema import TeamMember
from ui import day_view
from ui.day_view import Row
from ui.team_table import TeamFilter, TeamTableModel
from ui.timeline import Legend, TimelineDelegate


class TeamTab(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = TeamTableModel(self)
        self.filter = TeamFilter(self.model, self)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Find a person or a state (e.g. break)")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.filter.set_query)
        self.as_of = QLabel()  # "as of 14:05" while the view is not live
        self.as_of.hide()
        self.table = QTableView()
        self.table.setModel(self.filter)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.table.setItemDelegateForColumn(self.model.columns.index("Today"), TimelineDelegate(self.table))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(self.model.columns.index("Today"), QHeaderView.ResizeMode.Stretch)
        self.model.modelReset.connect(self._columns_changed)
        self.totals = QLabel()
        self.empty = QLabel("The team appears here once this device is enrolled and connected.")
        self.empty.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        top.addWidget(self.as_of)
        layout = QVBoxLayout(self)
        layout.addWidget(self.empty)
        layout.addLayout(top)
        layout.addWidget(self.table)
        bottom = QHBoxLayout()
        bottom.addWidget(self.totals, 1)
        bottom.addWidget(Legend())
        layout.addLayout(bottom)

    def show_team(self, members: Sequence[TeamMember], rows: Sequence[Row], now: datetime, *,
                  as_of: str | None) -> None:
        """The rows as built by ``day_view.rows``; ``as_of`` ("as of 14:05") greys them out: not live."""
        self.empty.hide()
        self.model.set_members(members, now, rows=rows, stale=as_of is not None)
        self.as_of.setText(as_of or "")
        self.as_of.setVisible(as_of is not None)
        self.totals.setText(day_view.totals_line(*day_view.team_totals(rows)))
        self.table.viewport().update()

    def _columns_changed(self) -> None:
        """The number columns come and go with the data (managers'); the strip keeps the spare width."""
        today = self.model.columns.index("Today")
        header = self.table.horizontalHeader()
        for column in range(self.model.columnCount()):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Stretch if column == today
                                        else QHeaderView.ResizeMode.ResizeToContents)
