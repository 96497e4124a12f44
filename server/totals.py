"""Day totals, with the day cut in the user's own IANA time zone.

A local day is not always 24 hours: across a DST change it is 23 or 25. ``day_bounds`` asks zoneinfo for
local midnight at both ends, so the sums are right on those days too.

A user with two devices running in the same minute must not get two minutes of work for it, so minutes are
merged per user, by the database: the seconds come from the most present device (most active, then most on
break, then most tracked; the lowest device id of equals), the input counts from all of them. The same rule in
Python, minute by minute, is the test oracle (tests/server/test_totals_sql.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from protocol.history import totals_from
from protocol.schema import Slot, Totals
from server.models import ActivitySlot, UtcDateTime

SECONDS = ("tracked_s", "active_s", "idle_s", "break_s", "input_s")
COUNTS = ("keys", "clicks", "scrolls", "mouse_px")


def day_bounds(day: date, time_zone: str) -> tuple[datetime, datetime]:
    """UTC start (inclusive) and end (exclusive) of ``day`` as lived in ``time_zone``."""
    zone = ZoneInfo(time_zone)
    start = datetime.combine(day, time(0), zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(UTC)
    return start, end


def local_date(moment: datetime, time_zone: str) -> date:
    return moment.astimezone(ZoneInfo(time_zone)).date()


def make_totals(slots: Iterable[Slot]) -> Totals:
    """The totals of minutes already merged (a day's ``merged_minutes``): their sums."""
    sums = dict.fromkeys(SECONDS + COUNTS, 0)
    for slot in slots:
        for name in sums:
            sums[name] += getattr(slot, name)
    return totals_from(sums)


_COLUMNS = tuple(getattr(ActivitySlot, name) for name in SECONDS + COUNTS)


#: Users summed in one query at most: their ids are bound parameters.
CHUNK = 1000

# One statement for any number of users sharing a window, built once: SQLAlchemy caches its compiled form
# (the id list is an expanding parameter). A ``VALUES`` list of per-user windows compiled anew every time,
# which py-spy found in 7 % of the server's samples in upload waves.
_FIRST = func.row_number().over(
    partition_by=(ActivitySlot.user_id, ActivitySlot.start),
    order_by=(ActivitySlot.active_s.desc(), ActivitySlot.break_s.desc(), ActivitySlot.tracked_s.desc(),
              ActivitySlot.device_id))
_RANKED = (select(ActivitySlot.user_id, ActivitySlot.start, *_COLUMNS, _FIRST.label("rank"))
           .where(ActivitySlot.user_id.in_(bindparam("uids", expanding=True)),
                  ActivitySlot.start >= bindparam("lo", type_=UtcDateTime),
                  ActivitySlot.start < bindparam("hi", type_=UtcDateTime))
           .subquery())
#: Per group, the seconds of each minute's first-ranked device and the counts of all.
_MERGED = (*(func.sum(case((_RANKED.c.rank == 1, _RANKED.c[name]), else_=0)) for name in SECONDS),
           *(func.sum(_RANKED.c[name]) for name in COUNTS))
_SUMMED = select(_RANKED.c.user_id, *_MERGED).group_by(_RANKED.c.user_id)
_MINUTES = (select(_RANKED.c.user_id, _RANKED.c.start, *_MERGED).group_by(_RANKED.c.user_id, _RANKED.c.start)
            .order_by(_RANKED.c.user_id, _RANKED.c.start))


def _numbers(sums: Iterable[Any]) -> dict[str, int]:
    return dict(zip(SECONDS + COUNTS, map(int, sums), strict=True))


async def merged_minutes(session: AsyncSession, user_id: int, window: tuple[datetime, datetime]) -> list[Slot]:
    """The user's minutes within the [start, end) window, each merged from the user's devices, in order."""
    # Plain rows, not ORM objects (building one per row was most of a day view's cost), and not validated again.
    return [Slot.model_construct(None, start=start, **_numbers(sums))
            async for _user_id, start, *sums in merged_rows(session, [user_id], window)]


async def merged_rows(session: AsyncSession, user_ids: Iterable[int], window: tuple[datetime, datetime]
                      ) -> AsyncIterator[tuple[Any, ...]]:
    """The users' merged minutes within the [start, end) window as plain rows, by user then minute:
    ``(user_id, start, *SECONDS, *COUNTS)``, for readers of many minutes (``server.history``) that would spend
    most of their time building a ``Slot`` per minute."""
    lo, hi = window
    uids = sorted(set(user_ids))
    for at in range(0, len(uids), CHUNK):
        for row in await session.execute(_MINUTES, {"uids": uids[at:at + CHUNK], "lo": lo, "hi": hi}):
            yield tuple(row)


async def summed(session: AsyncSession, windows: dict[int, tuple[datetime, datetime]]) -> dict[int, Totals]:
    """Each user's totals within that user's own [start, end) window, summed by the database: what
    ``make_totals(merged_minutes(…))`` gives, without reading a day of minutes into Python for every upload
    (py-spy: most of an upload wave's time at 30 minutes a user, growing through the day).

    One query per distinct window: users of one time zone share a day's window, so a wave of uploads from a
    company in a few zones costs a few queries."""
    sharing: dict[tuple[datetime, datetime], list[int]] = defaultdict(list)
    for uid, window in windows.items():
        sharing[window].append(uid)
    found: dict[int, Totals] = {}
    for (lo, hi), uids in sorted(sharing.items()):
        uids.sort()
        for at in range(0, len(uids), CHUNK):
            rows = await session.execute(_SUMMED, {"uids": uids[at:at + CHUNK], "lo": lo, "hi": hi})
            found.update((user_id, totals_from(_numbers(sums))) for user_id, *sums in rows)
    return {uid: found.get(uid) or make_totals(()) for uid in windows}


async def today_totals(session: AsyncSession, zones: dict[int, str], now: datetime) -> dict[int, Totals]:
    """Each user's totals for the local day that ``now`` falls in, in that user's time zone."""
    return await summed(session, {uid: day_bounds(local_date(now, zone), zone) for uid, zone in zones.items()})


async def day_totals(session: AsyncSession, days: Mapping[tuple[int, date], tuple[int, str]]
                     ) -> dict[tuple[int, date], Totals]:
    """Totals of each (user, local day) in ``days`` (valued (team id, time zone)): one query per distinct day,
    however many users, since ``summed`` takes one window per user."""
    by_day: dict[date, dict[int, tuple[datetime, datetime]]] = defaultdict(dict)
    for (user_id, day), (_team_id, zone) in days.items():
        by_day[day][user_id] = day_bounds(day, zone)
    return {(user_id, day): totals
            for day, windows in sorted(by_day.items())
            for user_id, totals in (await summed(session, windows)).items()}
