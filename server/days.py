"""Day totals kept past the retention window: one ``UserDay`` row per member and local day, folded from minutes.

A team that keeps day totals (``Team.keep_day_totals``) loses a day's minutes once they are past the retention
window, but not the day: before they are deleted, ``summarise_days`` sums them (merged across the member's
devices, as every other total) into the day's totals, its first and last active minute and its hourly profile,
cut in the member's zone (23 or 25 hours across a DST change). The history views answer days before the
minutes window from these rows (``member_day``), without a timeline.

The first fold of a day wins (``ON CONFLICT DO NOTHING``): minutes are deleted only after the day's row exists,
so a second fold (a second server process, a pass cut short) could only see fewer minutes, and is discarded.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from protocol.schema import HourProfile, MemberDay, Slot, Totals
from server.db import insert
from server.models import User, UserDay
from server.totals import day_bounds, local_date, make_totals, merged_minutes

_HOUR = timedelta(hours=1)
_HOURS = TypeAdapter(list[HourProfile])
#: Rows written by one ``INSERT`` at most: SQLite binds at most 32,766 parameters per statement.
_ROWS_PER_INSERT = 500


def _profile(day_start: datetime, day_end: datetime, minutes: Sequence[Slot]) -> list[HourProfile]:
    sums = [[0, 0, 0, 0] for _ in range(math.ceil((day_end - day_start) / _HOUR))]
    for minute in minutes:
        hour = sums[(minute.start - day_start) // _HOUR]
        for index, value in enumerate((minute.active_s, minute.idle_s, minute.break_s, minute.input_s)):
            hour[index] += value
    return [HourProfile(start=day_start + index * _HOUR, active_s=active, idle_s=idle, break_s=pause, input_s=typed)
            for index, (active, idle, pause, typed) in enumerate(sums)]


def _row(user_id: int, day: date, zone: str, minutes: Sequence[Slot]) -> dict[str, Any]:
    """The ``UserDay`` values of one day's merged minutes, in order."""
    start, end = day_bounds(day, zone)
    active = [minute.start for minute in minutes if minute.active_s]
    return {"user_id": user_id, "day": day, "time_zone": zone, **make_totals(minutes).model_dump(),
            "first_activity": active[0] if active else None,
            "last_activity": active[-1] + timedelta(minutes=1) if active else None,
            "hours": _HOURS.dump_json(_profile(start, end, minutes)).decode()}


async def summarise_days(session: AsyncSession, keys: Iterable[tuple[int, date]]) -> int:
    """Fold each (user id, local day) of ``keys`` into its ``UserDay`` row, unless the day has a row already or
    no minutes at all; how many rows were written. One query of merged minutes per user, over the span of the
    user's days."""
    wanted: dict[int, set[date]] = defaultdict(set)
    for user_id, day in keys:
        wanted[user_id].add(day)
    if not wanted:
        return 0
    zones = {user_id: zone for user_id, zone in await session.execute(
        select(User.id, User.time_zone).where(User.id.in_(wanted)))}
    rows: list[dict[str, Any]] = []
    for user_id, days in sorted(wanted.items()):
        zone = zones[user_id]
        first, last = min(days), max(days)
        by_day: dict[date, list[Slot]] = defaultdict(list)
        for minute in await merged_minutes(session, user_id, (day_bounds(first, zone)[0], day_bounds(last, zone)[1])):
            by_day[local_date(minute.start, zone)].append(minute)
        rows.extend(_row(user_id, day, zone, by_day[day]) for day in sorted(days) if by_day[day])
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
