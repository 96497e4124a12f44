"""The Team tab shows names as text: a right-to-left override, a zero-width space or an escape sequence stored in
a teammate's name (before the server refused them) is shown escaped, never applied (issue 13, item 11)."""

from __future__ import annotations

from datetime import UTC, datetime

from pytestqt.qtbot import QtBot

from protocol.schema import PresenceState, Role, TeamMember
from ui.team_table import TeamTableModel

NOW = datetime(2026, 11, 25, 14, 30, tzinfo=UTC)


def member(user_id: int, name: str) -> TeamMember:
    return TeamMember(user_id=user_id, name=name, role=Role.MEMBER, state=PresenceState.ACTIVE, since=NOW,
                      last_seen=NOW)


def test_names_with_control_characters_are_shown_escaped(qtbot: QtBot) -> None:
    model = TeamTableModel()
    model.set_members([member(1, "\u202egnp.exe"), member(2, "Ali\u200bce"), member(3, "Zoë Brandt"),
                       member(4, "PC\x1b]0;owned\x07")], NOW)
    names = [model.data(model.index(row, 0)) for row in range(model.rowCount())]
    assert sorted(names) == sorted(["\\u202egnp.exe", "Ali\\u200bce", "Zoë Brandt", "PC\\x1b]0;owned\\x07"])
