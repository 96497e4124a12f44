"""Day totals, with the day cut in the user's own IANA time zone.

A local day is not always 24 hours: across a DST change it is 23 or 25. ``day_bounds`` asks zoneinfo for
local midnight at both ends, so the sums are right on those days too.

A user with two devices running in the same minute must not get two minutes of work for it, so minutes are
merged per user first (``merge_minute``): the seconds come from the most present device, the input counts
from all of them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

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


def merge_minute(slots: list[Slot]) -> Slot:
    """One user-minute from its device slots (in device order): seconds of the most present device, the first
    of equals, counts of all. ``summed`` does the same in SQL."""
    best = max(slots, key=lambda s: (s.active_s, s.break_s, s.tracked_s))
    if len(slots) == 1:
        return best
    counts = {name: sum(getattr(s, name) for s in slots) for name in COUNTS}
    return best.model_copy(update=counts)


def make_totals(slots: Iterable[Slot]) -> Totals:
    sums = dict.fromkeys(SECONDS + COUNTS, 0)
    for slot in slots:
        for name in sums:
            sums[name] += getattr(slot, name)
    return _totals(sums)


def _totals(sums: Mapping[str, int]) -> Totals:
    active = sums["active_s"]
    pct = round(100.0 * sums["input_s"] / active, 1) if active else 0.0
    return Totals(**sums, activity_pct=pct)


_COLUMNS = tuple(getattr(ActivitySlot, name) for name in SECONDS + COUNTS)


async def user_minutes(session: AsyncSession, windows: dict[int, tuple[datetime, datetime]]) -> dict[int, list[Slot]]:
    """Each user's merged minutes within that user's own [start, end) window, in one query."""
    minutes: dict[int, list[Slot]] = {uid: [] for uid in windows}
    if not windows:
        return minutes
    lowest = min(start for start, _ in windows.values())
    highest = max(end for _, end in windows.values())
    # Plain columns, not ORM objects: a manager's day view or a wave of uploads reads thousands of rows, and
    # building (and identity-mapping) an ORM object per row was most of the cost.
    rows = await session.execute(
        select(ActivitySlot.user_id, ActivitySlot.start, *_COLUMNS)
        .where(ActivitySlot.user_id.in_(list(windows)), ActivitySlot.start >= lowest,
               ActivitySlot.start < highest)
        .order_by(ActivitySlot.user_id, ActivitySlot.start, ActivitySlot.device_id)
    )
    grouped: dict[tuple[int, datetime], list[Slot]] = defaultdict(list)
    for user_id, slot_start, *numbers in rows:
        start, end = windows[user_id]
        if start <= slot_start < end:
            grouped[(user_id, slot_start)].append(
                Slot.model_construct(start=slot_start, **dict(zip(SECONDS + COUNTS, numbers, strict=True))))
    for (user_id, _start), slots in grouped.items():
        minutes[user_id].append(merge_minute(slots))
    return minutes


#: Users summed in one query at most: their ids are bound parameters.
CHUNK = 1000

# One statement for any number of users sharing a window, built once: SQLAlchemy caches its compiled form
# (the id list is an expanding parameter). A ``VALUES`` list of per-user windows compiled anew every time,
# which py-spy found in 7 % of the server's samples in upload waves.
_FIRST = func.row_number().over(
    partition_by=(ActivitySlot.user_id, ActivitySlot.start),
    order_by=(ActivitySlot.active_s.desc(), ActivitySlot.break_s.desc(), ActivitySlot.tracked_s.desc(),
              ActivitySlot.device_id))
_RANKED = (select(ActivitySlot.user_id, *_COLUMNS, _FIRST.label("rank"))
           .where(ActivitySlot.user_id.in_(bindparam("uids", expanding=True)),
                  ActivitySlot.start >= bindparam("lo", type_=UtcDateTime),
                  ActivitySlot.start < bindparam("hi", type_=UtcDateTime))
           .subquery())
_SUMMED = (select(_RANKED.c.user_id,
                  *(func.sum(case((_RANKED.c.rank == 1, _RANKED.c[name]), else_=0)) for name in SECONDS),
                  *(func.sum(_RANKED.c[name]) for name in COUNTS))
           .group_by(_RANKED.c.user_id))


async def summed(session: AsyncSession, windows: dict[int, tuple[datetime, datetime]]) -> dict[int, Totals]:
    """Each user's totals within that user's own [start, end) window, summed by the database: what
    ``make_totals(user_minutes(…))`` gives, without reading a day of minutes into Python for every upload
    (py-spy: most of an upload wave's time at 30 minutes a user, growing through the day). Per minute, the
    seconds of the device ranked first as ``merge_minute`` ranks them; counts of every device.

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
            found.update((user_id, _totals(dict(zip(SECONDS + COUNTS, map(int, sums), strict=True))))
                         for user_id, *sums in rows)
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
