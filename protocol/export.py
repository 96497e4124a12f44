"""Members' days as CSV for IT and HR: one pure module, used by ``staffpulse-server report`` and the window's
export, so both give the same numbers as the API (JSON is the answer model's own JSON).

One row per member-day. First and last activity are written in the member's own zone (ISO-8601 with its
offset), as the day itself is cut. A spreadsheet runs a cell starting with ``=``, ``+``, ``-`` or ``@`` as a
formula, so a name starting with one is written with a leading ``'`` (CSV injection): names are chosen by
people, every other column is a number, a date or a zone name.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from protocol.schema import MemberDay, MemberDays, TeamDays

COLUMNS = ("date", "user_id", "name", "time_zone", "tracked_s", "active_s", "idle_s", "break_s", "input_s",
           "activity_pct", "first_activity", "last_activity", "keys", "clicks", "scrolls", "mouse_px")
_FORMULA_STARTS = ("=", "+", "-", "@")


def safe_cell(text: str) -> str:
    """``text`` as a spreadsheet shows it, never as a formula it would run."""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _local(moment: datetime | None, zone: str) -> str:
    return "" if moment is None else moment.astimezone(ZoneInfo(zone)).isoformat()


def _row(day: MemberDay) -> list[object]:
    totals = day.totals
    return [day.date.isoformat(), day.user_id, safe_cell(day.name), day.time_zone, totals.tracked_s,
            totals.active_s, totals.idle_s, totals.break_s, totals.input_s, totals.activity_pct,
            _local(day.first_activity, day.time_zone), _local(day.last_activity, day.time_zone), totals.keys,
            totals.clicks, totals.scrolls, totals.mouse_px]


def _csv(days: Iterable[MemberDay]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows(_row(day) for day in days)
    return out.getvalue()


def member_csv(member: MemberDays) -> str:
    return _csv(member.days)


def team_csv(team: TeamDays) -> str:
    """Member by member (in the answer's order), each member's days in date order."""
    return _csv(day for member in team.members for day in member.days)
