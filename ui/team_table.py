"""The Team tab's table model: one row per member, updated in place as live events arrive.

A managers' view carries each member's totals for today (the server sends them only to managers), so the
two extra columns appear exactly when the data is there; members never get them.

Names are shown through ``protocol.text.visible``: one stored before control characters were refused could
hold a right-to-left override or a zero-width space, which would reverse or disguise it in the table.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt

from protocol.schema import TeamMember
from protocol.text import visible
from ui import present
from ui.icons import dot_icon

BASE_COLUMNS = ("Name", "State", "Since", "Last seen")
MANAGER_COLUMNS = ("Active today", "Activity")

Index = QModelIndex | QPersistentModelIndex


class TeamTableModel(QAbstractTableModel):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._members: list[TeamMember] = []
        self._columns: tuple[str, ...] = BASE_COLUMNS
        self._now = datetime.now().astimezone()

    @property
    def shows_totals(self) -> bool:
        return self._columns != BASE_COLUMNS

    def set_members(self, members: Sequence[TeamMember], now: datetime) -> None:
        """Same people in the same order: change the cells (selection and scroll stay); else rebuild."""
        ordered = sorted(members, key=lambda member: member.name.casefold())
        columns = BASE_COLUMNS + (MANAGER_COLUMNS if any(m.totals is not None for m in ordered) else ())
        self._now = now
        same = columns == self._columns and [m.user_id for m in ordered] == [m.user_id for m in self._members]
        if same:
            self._members = ordered
            if ordered:
                self.dataChanged.emit(self.index(0, 0), self.index(len(ordered) - 1, len(columns) - 1))
            return
        self.beginResetModel()
        self._members, self._columns = ordered, columns
        self.endResetModel()

    def member(self, row: int) -> TeamMember:
        return self._members[row]

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
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(member, column)
        if role == Qt.ItemDataRole.DecorationRole and column == "State":
            return dot_icon(present.STATE_COLOURS[member.state])
        return None

    def _text(self, member: TeamMember, column: str) -> str:
        if column == "Name":
            return visible(member.name)
        if column == "State":
            return member.state.value.capitalize()
        if column == "Since":
            return present.clock_time(member.since, self._now)
        if column == "Last seen":
            return present.last_seen(member, self._now)
        if member.totals is None:
            return "—"
        if column == "Active today":
            return present.duration(member.totals.active_s)
        return present.percent(member.totals.activity_pct)
