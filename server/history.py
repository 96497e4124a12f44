"""Members' past days: what the history routes, ``staffpulse-server report`` and the exports answer.

A day is the member's own local day (``server.totals.day_bounds``: 23 or 25 hours across a DST change), built
from the member's merged minutes (``server.totals.merged_rows``: the seconds of the most present device, the
counts of all), so a day here always equals the day totals the live views show. Each day holds its totals, the
first and last minute with active seconds, one ``HourProfile`` per local hour and, for single-day answers, the
minute timeline: one ``MinuteMark`` per minute from local midnight, the largest of the minute's active, break
and idle seconds (ties to the more present state), ``-`` where no minute was stored or none of it tracked.

Who may read what is decided here too, so the routes and the CLI cannot differ: a team's days are for its
managers and admins (403 ``manager_only`` to a member); one member's days for that member and the managers and
admins of their team, and a 404 to anyone else, the same answer as an unknown id.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from protocol.schema import (
    HourProfile,
    MemberDay,
    MemberDays,
    MinuteMark,
    Retention,
    TeamDay,
    TeamDays,
    TeamPublic,
    Totals,
)
from server.auth import Principal
from server.config import Settings
from server.errors import Forbidden, Invalid, NotFound
from server.models import Team, User
from server.totals import COUNTS, SECONDS, day_bounds, merged_rows, totals_from

#: The longest range one request may ask for: two months, so a request's cost stays bounded.
MAX_RANGE_DAYS = 62
#: Days whose local midnights, in any zone, a ``datetime`` can hold (0001-01-01 in UTC+14 cannot).
FIRST_DAY, LAST_DAY = date(1, 1, 2), date(9999, 12, 30)

_HOUR = timedelta(hours=1)
_MINUTE = timedelta(minutes=1)
_NAMES = SECONDS + COUNTS
_ACTIVE, _IDLE, _BREAK, _INPUT = (_NAMES.index(name) for name in ("active_s", "idle_s", "break_s", "input_s"))


def mark(active_s: int, break_s: int, idle_s: int) -> MinuteMark:
    """How a merged minute was mostly spent; ties go to the more present state (active, then break, then idle)."""
    most = max(active_s, break_s, idle_s)
    if most == 0:
        return MinuteMark.NONE
    if active_s == most:
        return MinuteMark.ACTIVE
    return MinuteMark.BREAK if break_s == most else MinuteMark.IDLE


def check_day(day: date, field: str) -> None:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise Invalid(f"{field}: day out of range", field=field)


def check_range(start: date, end: date) -> None:
    """An inclusive range of at most ``MAX_RANGE_DAYS`` days; the refusal names the query field to change."""
    check_day(start, "query.start")
    check_day(end, "query.end")
    if end < start:
        raise Invalid("query.end: end is before start", field="query.end")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise Invalid(f"query.end: at most {MAX_RANGE_DAYS} days at once", field="query.end")


def retention(settings: Settings) -> Retention:
    """What the server keeps, so a history view can say why an old day is empty."""
    return Retention(minutes_days=settings.retention_days, keeps_day_totals=False)


@dataclasses.dataclass
class _Day:
    """One member's local day being summed from merged minutes, in order."""

    day: date
    start: datetime
    end: datetime
    sums: list[int]
    hours: list[list[int]]  # per local hour: active, idle, break, input seconds
    marks: bytearray | None
    first: datetime | None = None
    last: datetime | None = None

    @classmethod
    def empty(cls, day: date, zone: str, *, timeline: bool) -> _Day:
        start, end = day_bounds(day, zone)
        span = end - start
        return cls(day, start, end, [0] * len(_NAMES), [[0, 0, 0, 0] for _ in range(math.ceil(span / _HOUR))],
                   bytearray(MinuteMark.NONE.encode() * (span // _MINUTE)) if timeline else None)

    def add(self, minute: datetime, numbers: Sequence[int]) -> None:
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

    def member_day(self, user: User) -> MemberDay:
        return MemberDay(
            user_id=user.id, name=user.name, date=self.day, time_zone=user.time_zone,
            totals=totals_from(dict(zip(_NAMES, self.sums, strict=True))),
            first_activity=self.first, last_activity=self.last,
            hours=[HourProfile(start=self.start + index * _HOUR, active_s=a, idle_s=i, break_s=b, input_s=n)
                   for index, (a, i, b, n) in enumerate(self.hours)],
            timeline=self.marks.decode() if self.marks is not None else None)


async def member_days(session: AsyncSession, users: Sequence[User], start: date, end: date, *,
                      timelines: bool = False) -> dict[int, list[MemberDay]]:
    """Every day of [start, end] (inclusive) of each user, each cut in that user's own zone: one query for all
    of them, over the span from the earliest local midnight to the latest."""
    dates = [start + timedelta(days=k) for k in range((end - start).days + 1)]
    days = {user.id: [_Day.empty(day, user.time_zone, timeline=timelines) for day in dates] for user in users}
    if not days:
        return {}
    starts = {uid: [day.start for day in per] for uid, per in days.items()}
    window = (min(per[0].start for per in days.values()), max(per[-1].end for per in days.values()))
    async for uid, minute, *numbers in merged_rows(session, list(days), window):
        index = bisect.bisect_right(starts[uid], minute) - 1
        if index >= 0 and minute < days[uid][index].end:
            days[uid][index].add(minute, numbers)
    by_id = {user.id: user for user in users}
    return {uid: [day.member_day(by_id[uid]) for day in per] for uid, per in days.items()}


def team_totals(members: Sequence[MemberDay]) -> Totals:
    sums = dict.fromkeys(_NAMES, 0)
    for member in members:
        for name in _NAMES:
            sums[name] += getattr(member.totals, name)
    return totals_from(sums)


# --- who may read what ----------------------------------------------------------------------------------------


def require_manager(principal: Principal) -> None:
    if not principal.is_manager:
        raise Forbidden("only the team's managers see the team's history", code="manager_only")


async def visible_member(session: AsyncSession, principal: Principal, user_id: int) -> User:
    """The user ``user_id`` if the caller may read their days (themself, or a manager or admin of their team);
    otherwise the same 404 as an unknown id, so ids of other teams tell nothing."""
    user = await session.get(User, user_id)
    if user is None or not (user.id == principal.user.id
                            or (principal.is_manager and user.team_id == principal.user.team_id)):
        raise NotFound("no such member")
    return user


async def _team(session: AsyncSession, team_id: int) -> tuple[TeamPublic, list[User]]:
    team = await session.get(Team, team_id)
    if team is None:
        raise NotFound("team not found")
    users = list(await session.scalars(select(User).where(User.team_id == team.id).order_by(User.name, User.id)))
    return TeamPublic(id=team.id, name=team.name), users


# --- the answers ----------------------------------------------------------------------------------------------


async def team_day(session: AsyncSession, team_id: int, day: date, settings: Settings) -> TeamDay:
    team, users = await _team(session, team_id)
    found = await member_days(session, users, day, day, timelines=True)
    members = [found[user.id][0] for user in users]
    return TeamDay(team=team, date=day, members=members, totals=team_totals(members),
                   retention=retention(settings))


async def team_days(session: AsyncSession, team_id: int, start: date, end: date, settings: Settings) -> TeamDays:
    team, users = await _team(session, team_id)
    found = await member_days(session, users, start, end)
    return TeamDays(team=team, start=start, end=end, retention=retention(settings),
                    members=[MemberDays(user_id=user.id, name=user.name, time_zone=user.time_zone,
                                        days=found[user.id]) for user in users])


async def one_member_day(session: AsyncSession, user: User, day: date) -> MemberDay:
    return (await member_days(session, [user], day, day, timelines=True))[user.id][0]


async def one_member_days(session: AsyncSession, user: User, start: date, end: date) -> MemberDays:
    found = await member_days(session, [user], start, end)
    return MemberDays(user_id=user.id, name=user.name, time_zone=user.time_zone, days=found[user.id])
