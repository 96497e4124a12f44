"""Day totals kept past the retention window: one ``UserDay`` row per member and local day, folded from minutes.

A team that keeps day totals (``Team.keep_day_totals``) loses a day's minutes once they are past the retention
window, but not the day: before they are deleted, ``summarise_days`` sums them (merged across the member's
devices, as every other total) into the day's totals, its first and last active minute and its hourly profile,
cut in the member's zone (23 or 25 hours across a DST change): the day as the history answers showed it
(``server.history.member_days``), less its minute timeline. The history views answer days before the
minutes window from these rows (``member_day``), without a timeline.

The first fold of a day wins (``ON CONFLICT DO NOTHING``): minutes are deleted only after the day's row exists,
so a second fold (a second server process, a pass cut short) could only see fewer minutes, and is discarded.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from protocol.schema import HourProfile, MemberDay, Totals
from server.db import insert
from server.history import member_days
from server.models import User, UserDay

_HOURS = TypeAdapter(list[HourProfile])
#: Rows written by one ``INSERT`` at most: SQLite binds at most 32,766 parameters per statement.
_ROWS_PER_INSERT = 500


def _row(day: MemberDay) -> dict[str, Any]:
    return {"user_id": day.user_id, "day": day.date, "time_zone": day.time_zone, **day.totals.model_dump(),
            "first_activity": day.first_activity, "last_activity": day.last_activity,
            "hours": _HOURS.dump_json(day.hours).decode()}


async def summarise_days(session: AsyncSession, keys: Iterable[tuple[int, date]]) -> int:
    """Fold each (user id, local day) of ``keys`` into its ``UserDay`` row, unless the day has a row already or
    nothing in it; how many rows were written. The day is what the history answers showed of it
    (``server.history.member_days``), without the timeline: one query of merged minutes per user."""
    wanted: dict[int, set[date]] = defaultdict(set)
    for user_id, day in keys:
        wanted[user_id].add(day)
    rows: list[dict[str, Any]] = []
    for user in await session.scalars(select(User).where(User.id.in_(wanted)).order_by(User.id)):
        days = wanted[user.id]
        found = (await member_days(session, [user], min(days), max(days)))[user.id]
        rows.extend(_row(day) for day in found if day.date in days and day.totals != Totals())
    written = 0
    for at in range(0, len(rows), _ROWS_PER_INSERT):
        result = await session.execute(insert(session, UserDay).values(rows[at:at + _ROWS_PER_INSERT])
                                       .on_conflict_do_nothing())
        written += max(result.rowcount, 0)  # type: ignore[attr-defined]  # a CursorResult for an INSERT
    return written


def member_day(row: UserDay, name: str) -> MemberDay:
    """A folded day as the history answers show it: totals and hours, no timeline (its minutes are gone)."""
    totals = Totals(**{field: getattr(row, field) for field in Totals.model_fields})
    return MemberDay(user_id=row.user_id, name=name, date=row.day, time_zone=row.time_zone, totals=totals,
                     first_activity=row.first_activity, last_activity=row.last_activity,
                     hours=_HOURS.validate_json(row.hours), timeline=None)
