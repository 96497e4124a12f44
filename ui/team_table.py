"""The Team tab's table model: one row per member, updated in place as live events arrive, and the proxy that
sorts and filters it.

Each row is a ``ui.day_view.Row``: the member's state with its duration, their day as a strip ("Today", painted
by ``ui.timeline.TimelineDelegate``) and last seen. A managers' view carries each member's totals for today (the
server sends them only to managers), so the three number columns appear exactly when the data is there;
members never get them, and see no one's strip but their own.

While the view is not live (an outage, or the last known view shown at start) every row is greyed out
(``stale``): what it says is as of the last read, not now.

Names are shown through ``protocol.text.visible``: one stored before control characters were refused could
hold a right-to-left override or a zero-width space, which would reverse or disguise it in the table.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QGuiApplication, QPalette

from protocol.schema import TeamMember
from ui import day_view, present
from ui.day_view import Row
from ui.icons import dot_icon
from ui.timeline import STALE_ROLE, STRIP_ROLE

BASE_COLUMNS = ("Name", "State", "Today", "Last seen")
MANAGER_COLUMNS = ("Active today", "Activity", "Breaks")

Index = QModelIndex | QPersistentModelIndex


class TeamTableModel(QAbstractTableModel):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._members: list[TeamMember] = []
        self._rows: dict[int, Row] = {}
        self._columns: tuple[str, ...] = BASE_COLUMNS
        self._now = datetime.now().astimezone()
        self.stale = False

    @property
    def columns(self) -> tuple[str, ...]:
        return self._columns

    def set_members(self, members: Sequence[TeamMember], now: datetime, *, rows: Sequence[Row] = (),
                    stale: bool = False) -> None:
        """Same people in the same order: change the cells (selection and scroll stay); else rebuild. ``rows``
        are the members as the dashboard shows them (``day_view.rows``); without them, as the server sent them."""
        ordered = sorted(members, key=lambda member: member.name.casefold())
        if not rows:
            rows = day_view.rows(ordered, me=None, days={}, own_strip=None, own_totals=None, refused=False, now=now)
        columns = BASE_COLUMNS + (MANAGER_COLUMNS if any(m.totals is not None for m in ordered) else ())
        self._now, self.stale = now, stale
        same = columns == self._columns and [m.user_id for m in ordered] == [m.user_id for m in self._members]
        if same:
            self._members, self._rows = ordered, {row.user_id: row for row in rows}
            if ordered:
                self.dataChanged.emit(self.index(0, 0), self.index(len(ordered) - 1, len(columns) - 1))
            return
        self.beginResetModel()
        self._members, self._columns = ordered, columns
        self._rows = {row.user_id: row for row in rows}
        self.endResetModel()

    def member(self, row: int) -> TeamMember:
        return self._members[row]

    def shown(self, row: int) -> Row:
        return self._rows[self._members[row].user_id]

    def sort_key(self, row: int, column: int) -> Any:
        return day_view.SORT_KEYS[self._columns[column]](self.shown(row))

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._members)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._columns)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation is Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self._columns[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        member, column = self._members[index.row()], self._columns[index.column()]
        row = self._rows[member.user_id]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(member, row, column)
        if role == Qt.ItemDataRole.DecorationRole and column == "State":
            return dot_icon(present.STATE_COLOURS[row.state])
        if role == Qt.ItemDataRole.ForegroundRole and self.stale:  # the palette's disabled text: light or dark
            return QGuiApplication.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
        if role == Qt.ItemDataRole.ToolTipRole and column == "State":
            return f"since {present.clock_time(row.since, self._now, self._now.tzinfo)}" if row.since else None
        if role == STRIP_ROLE and column == "Today":
            return row.strip
        if role == STALE_ROLE:
            return self.stale
        return None

    def _text(self, member: TeamMember, row: Row, column: str) -> str:
        if column == "Name":
            return row.name + (" (you)" if row.own else "")
        if column == "State":
            return day_view.state_words(row.state, row.since, self._now)
        if column == "Today":
            return ""  # painted by the delegate; a member sees only their own strip
        if column == "Last seen":
            return present.last_seen(member, self._now)
        if row.totals is None:
            return "—"
        if column == "Active today":
            return present.duration(row.totals.active_s)
        if column == "Activity":
            return present.percent(row.totals.activity_pct)
        return present.duration(row.totals.break_s)


class TeamFilter(QSortFilterProxyModel):
    """Sorts by ``day_view.SORT_KEYS`` (numbers as numbers, states by presence) and keeps the rows that match
    the search box (``day_view.matches``), so a team of 50 is one word away from the person wanted."""

    def __init__(self, source: TeamTableModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setSourceModel(source)
        self._source = source
        self._query = ""

    def set_query(self, query: str) -> None:
        self.beginFilterChange()  # Qt 6.10's replacement of the deprecated invalidateFilter()
        self._query = query
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, _parent: Index) -> bool:
        return day_view.matches(self._source.shown(source_row), self._query)

    def lessThan(self, left: Index, right: Index) -> bool:
        key_left = self._source.sort_key(left.row(), left.column())
        key_right = self._source.sort_key(right.row(), right.column())
        return bool(key_left < key_right)
