"""Members' local days built from their merged minutes, and kept as one ``UserDay`` row each.

A day is the member's own local day (``server.totals.day_bounds``: 23 or 25 hours across a DST change), summed
from the member's merged minutes (``server.totals.merged_rows``: the seconds of the most present device, the
counts of all), so it always equals the day totals the live views show: its totals, the first and last minute
with active seconds, one ``HourProfile`` per local hour and, when asked, the minute timeline: one ``MinuteMark``
per minute from local midnight, the largest of the minute's active, break and idle seconds (ties to the more
present state), ``-`` where no minute was stored or none of it tracked.

``user_days`` keeps a day summed, for two readers: the history ranges (a manager's week of a team of 50 would
otherwise sum ~200,000 minutes per request: seconds on SQLite, bench/team_week.py), and the retention pass,
which folds a day of a team that keeps day totals before its minutes go. A row is right only while no minute
of its day arrived since it was summed, and minutes arrive late (an agent offline for days sends them when it
is back). So each row counts its changes: ingest bumps ``version`` of every day a batch added minutes to
(``touch``, in the batch's transaction, creating the row if need be), and ``summarised`` is the version the
sums were read at, ``summarised_at`` when. A row with ``summarised == version`` is right (``fresh``); the
history ranges also serve a stale row summed at most ``summary_max_age_s`` ago (``usable``), since the
background summariser (``server.summariser``) sums it again within seconds of the upload that made it stale,
off the request path. ``summarise_days`` reads the rows' versions before the minutes and writes only where the
version is still the one it read and the row is not fresh yet: an upload committed meanwhile, or a second
summariser that got there first (the retention pass or summariser of another process, which may have deleted
minutes since), leaves the row as the other wrote it.

``hours`` holds the day's hourly profiles as the wire writes them (``HourProfile`` JSON), so an answer splices
the text in (``MemberDay.hours`` left empty, ``Served.hours`` beside it) instead of parsing 24 models per day
and writing them out again: most of a week's CPU otherwise.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any, cast

from pydantic import TypeAdapter
from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from protocol.history import totals_from
from protocol.schema import HourProfile, MemberDay, MinuteMark, Totals
from server.db import insert
from server.models import User, UserDay
from server.totals import COUNTS, SECONDS, day_bounds, merged_rows

_HOUR = timedelta(hours=1)
_MINUTE = timedelta(minutes=1)
_HOURS = TypeAdapter(list[HourProfile])
_NAMES = SECONDS + COUNTS
_ACTIVE, _IDLE, _BREAK, _INPUT = (_NAMES.index(name) for name in ("active_s", "idle_s", "break_s", "input_s"))
#: Rows written by one ``INSERT`` at most: SQLite binds at most 32,766 parameters per statement.
_ROWS_PER_INSERT = 500

Key = tuple[int, date]
#: A ``UserDay``'s columns that hold the day (``Day.values``), not its versions.
_VALUES = ("user_id", "day", "time_zone", *Totals.model_fields, "first_activity", "last_activity", "hours")


def mark(active_s: int, break_s: int, idle_s: int) -> MinuteMark:
    """How a merged minute was mostly spent; ties go to the more present state (active, then break, then idle)."""
    most = max(active_s, break_s, idle_s)
    if most == 0:
        return MinuteMark.NONE
    if active_s == most:
        return MinuteMark.ACTIVE
    return MinuteMark.BREAK if break_s == most else MinuteMark.IDLE


@dataclasses.dataclass
class Day:
    """One member's local day being summed from merged minutes, in order."""

    day: date
    time_zone: str
    start: datetime
    end: datetime
    sums: list[int]
    hours: list[list[int]]  # per local hour: active, idle, break, input seconds
    marks: bytearray | None
    first: datetime | None = None
    last: datetime | None = None
    count: int = 0  # minutes added

    @classmethod
    def empty(cls, day: date, zone: str, *, timeline: bool) -> Day:
        start, end = day_bounds(day, zone)
        span = end - start
        return cls(day, zone, start, end, [0] * len(_NAMES),
                   [[0, 0, 0, 0] for _ in range(math.ceil(span / _HOUR))],
                   bytearray(MinuteMark.NONE.encode() * (span // _MINUTE)) if timeline else None)

    def add(self, minute: datetime, numbers: Sequence[int]) -> None:
        self.count += 1
        for index, value in enumerate(numbers):
            self.sums[index] += value
        active, idle, pause = numbers[_ACTIVE], numbers[_IDLE], numbers[_BREAK]
        offset = minute - self.start
        hour = self.hours[offset // _HOUR]
        hour[0] += active
        hour[1] += idle
        hour[2] += pause
        hour[3] += numbers[_INPUT]
        if active:
            self.first = self.first or minute
            self.last = minute + _MINUTE
        if self.marks is not None:
            self.marks[offset // _MINUTE] = ord(mark(active, pause, idle))

    @property
    def totals(self) -> Totals:
        return totals_from(dict(zip(_NAMES, self.sums, strict=True)))

    def profile(self) -> list[HourProfile]:
        return [HourProfile(start=self.start + index * _HOUR, active_s=a, idle_s=i, break_s=b, input_s=n)
                for index, (a, i, b, n) in enumerate(self.hours)]

    def member_day(self, user_id: int, name: str) -> MemberDay:
        return MemberDay(user_id=user_id, name=name, date=self.day, time_zone=self.time_zone, totals=self.totals,
                         first_activity=self.first, last_activity=self.last, hours=self.profile(),
                         timeline=self.marks.decode() if self.marks is not None else None)

    def values(self, user_id: int) -> dict[str, Any]:
        """The day as a ``UserDay`` row's values (without its versions)."""
        return {"user_id": user_id, "day": self.day, "time_zone": self.time_zone, **self.totals.model_dump(),
                "first_activity": self.first, "last_activity": self.last,
                "hours": _HOURS.dump_json(self.profile()).decode()}


async def build(session: AsyncSession, wanted: Mapping[int, tuple[str, Iterable[date]]], *,
                timelines: bool = False) -> dict[Key, Day]:
    """The days of each user (id → (zone, dates)), each cut in that user's zone, from their merged minutes: one
    query for all of them, over the span from the earliest local midnight to the latest."""
    days = {uid: sorted((Day.empty(day, zone, timeline=timelines) for day in set(dates)), key=lambda d: d.start)
            for uid, (zone, dates) in wanted.items()}
    days = {uid: per for uid, per in days.items() if per}
    if not days:
        return {}
    starts = {uid: [day.start for day in per] for uid, per in days.items()}
    window = (min(per[0].start for per in days.values()), max(per[-1].end for per in days.values()))
    async for uid, minute, *numbers in merged_rows(session, list(days), window):
        index = bisect.bisect_right(starts[uid], minute) - 1
        if index >= 0 and minute < days[uid][index].end:
            days[uid][index].add(minute, numbers)
    return {(uid, day.day): day for uid, per in days.items() for day in per}


@dataclasses.dataclass(frozen=True)
class Served:
    """A day as an answer holds it: the model, and for a day read from its row, the hours as the row keeps
    them (wire JSON), with the model's ``hours`` left empty until ``model`` parses them."""

    day: MemberDay
    hours: str | None = None

    def model(self) -> MemberDay:
        """The whole day as a model (the exports, the report command)."""
        if self.hours is None:
            return self.day
        return self.day.model_copy(update={"hours": _HOURS.validate_json(self.hours)})

    def json(self) -> str:
        """The day as ``model().model_dump_json()`` writes it, the stored hours spliced in unparsed."""
        text = self.day.model_dump_json()
        if self.hours is None:
            return text
        return splice(text, '"hours":[]', self.hours)


def splice(text: str, empty: str, fragment: str) -> str:
    """``text`` (a model's JSON) with its field ``empty`` (``"name":[]``) filled with ``fragment``, a JSON list.
    Only a field name can match: in a string value every quote is escaped."""
    head, found, tail = text.partition(empty)
    if not found:
        raise ValueError(f"no {empty} in the answer")
    return f"{head}{empty[:-2]}{fragment}{tail}"


def member_day(row: UserDay, name: str) -> Served:
    """A kept day as the history answers show it: totals and hours, no timeline (its minutes may be gone)."""
    totals = Totals(**{field: getattr(row, field) for field in Totals.model_fields})
    return Served(MemberDay(user_id=row.user_id, name=name, date=row.day, time_zone=row.time_zone, totals=totals,
                            first_activity=row.first_activity, last_activity=row.last_activity, timeline=None),
                  row.hours)


def fresh(row: UserDay | None, zone: str) -> bool:
    """Whether ``row`` holds its day as the minutes give it now (no minute arrived since, same zone)."""
    return row is not None and row.summarised == row.version and row.time_zone == zone


def usable(row: UserDay | None, zone: str, *, now: datetime, max_age_s: float) -> bool:
    """Whether a reader may serve ``row``: fresh, or summed (in the same zone) at most ``max_age_s`` ago, so it
    lacks at most the minutes that arrived since; a row never summed is never usable."""
    if row is None or row.time_zone != zone or row.summarised is None:
        return False
    return fresh(row, zone) or (row.summarised_at is not None
                                and (now - row.summarised_at).total_seconds() <= max_age_s)


async def stored(session: AsyncSession, user_ids: Iterable[int], start: date, end: date) -> dict[Key, UserDay]:
    """The users' ``UserDay`` rows of [start, end], fresh or not: plain rows with the same attributes (a week of a
    team is 350 of them; ORM objects cost a fifth of the answer's time), read, never changed."""
    table = UserDay.__table__
    rows = await session.execute(select(table).where(table.c.user_id.in_(sorted(set(user_ids))),
                                                     table.c.day >= start, table.c.day <= end))
    return {(row.user_id, row.day): cast(UserDay, row) for row in rows}


async def refresh(session: AsyncSession, wanted: Mapping[Key, str], found: Mapping[Key, UserDay], *,
                  empty: bool, now: datetime) -> tuple[dict[Key, Day], int]:
    """Sum each (user, day) of ``wanted`` (valued its zone) from the minutes and write it to its row, unless
    the row is fresh (``found``: the rows as read BEFORE this reads the minutes), or the day has no minutes and
    ``empty`` is false. The days summed, and how many rows were written."""
    todo = {key: zone for key, zone in wanted.items() if not fresh(found.get(key), zone)}
    per_user: dict[int, tuple[str, list[date]]] = {}
    for (uid, on), zone in todo.items():
        per_user.setdefault(uid, (zone, []))[1].append(on)
    days = await build(session, per_user)
    new, changed = [], []
    for key, day in days.items():
        if not (empty or day.count):
            continue
        row = found.get(key)
        if row is None:
            new.append(day.values(key[0]) | {"version": 0, "summarised": 0, "summarised_at": now})
        else:
            # Parameters named apart from the columns: SQLAlchemy reserves a column's name for its SET value.
            changed.append({f"new_{name}": value for name, value in day.values(key[0]).items()}
                           | {"read": row.version, "new_summarised_at": now})
    written = 0
    connection = await session.connection()
    for at in range(0, len(new), _ROWS_PER_INSERT):
        # One multi-row VALUES statement, not an executemany: asyncpg counts no rows of an executemany
        # (``supports_sane_multi_rowcount``), and the retention pass logs how many days it folded.
        result = await connection.execute(insert(session, UserDay).values(new[at:at + _ROWS_PER_INSERT])
                                          .on_conflict_do_nothing())
        written += max(result.rowcount, 0)
    if changed:
        columns: dict[str, Any] = {name: bindparam(f"new_{name}") for name in (*_VALUES, "summarised_at")
                                   if name not in ("user_id", "day")}
        statement = (update(UserDay).where(UserDay.user_id == bindparam("new_user_id"),
                                           UserDay.day == bindparam("new_day"), UserDay.version == bindparam("read"),
                                           or_(UserDay.summarised.is_(None), UserDay.summarised != UserDay.version))
                     .values(**columns, summarised=bindparam("read")))
        # Where the driver counts an executemany's rows (SQLite), one executemany; else (asyncpg) one statement
        # per row, each counted.
        batches = [changed] if connection.dialect.supports_sane_multi_rowcount else [[row] for row in changed]
        for batch in batches:
            written += max((await connection.execute(statement, batch)).rowcount, 0)
    return days, written


async def summarise_days(session: AsyncSession, keys: Iterable[Key], *, now: datetime, empty: bool = False) -> int:
    """Write each (user id, local day) of ``keys`` to its ``UserDay`` row, unless the row is fresh or (unless
    ``empty``) the day has no minutes at all; how many rows were written. The retention pass calls it before
    deleting a day's minutes, the summariser for the rows ingest marked stale."""
    wanted = set(keys)
    if not wanted:
        return 0
    zones = dict((await session.execute(select(User.id, User.time_zone)
                                        .where(User.id.in_({uid for uid, _day in wanted})))).all())
    first, last = min(day for _uid, day in wanted), max(day for _uid, day in wanted)
    found = {key: row for key, row in (await stored(session, zones, first, last)).items() if key in wanted}
    _days, written = await refresh(session, {key: zones[key[0]] for key in wanted}, found, empty=empty, now=now)
    return written


async def touch(session: AsyncSession, keys: Iterable[tuple[int, date, str]]) -> None:
    """Mark each (user id, local day, zone) as changed: minutes of it were just stored. Its row, created empty
    if there was none, is no longer fresh until it is summed again."""
    rows = [{"user_id": uid, "day": day, "time_zone": zone, **Totals().model_dump(), "first_activity": None,
             "last_activity": None, "hours": "[]", "version": 1, "summarised": None}
            for uid, day, zone in sorted(set(keys))]
    if not rows:
        return
    connection = await session.connection()
    for at in range(0, len(rows), _ROWS_PER_INSERT):
        statement = insert(session, UserDay)
        await connection.execute(statement.on_conflict_do_update(
            index_elements=[UserDay.user_id, UserDay.day], set_={"version": UserDay.version + 1}),
            rows[at:at + _ROWS_PER_INSERT])
