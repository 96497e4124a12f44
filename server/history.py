"""Members' past days: what the history routes, ``staffpulse-server report`` and the exports answer.

A day is the member's own local day, summed from the member's merged minutes or read from its fresh
``user_days`` row (``server.days``), so it always equals the day totals the live views show; single-day answers
add the minute timeline.

Who may read what is decided here too, so the routes and the CLI cannot differ: a team's days are for its
managers and admins (403 ``manager_only`` to a member); one member's days for that member and the managers and
admins of their team, and a 404 to anyone else, the same answer as an unknown id.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from protocol.schema import (
    MemberDay,
    MemberDays,
    TeamDay,
    TeamDays,
    TeamPublic,
    Totals,
)
from server import days
from server.auth import Principal
from server.config import Settings
from server.errors import AdminError, Forbidden, Invalid, NotFound
from server.models import Team, User
from server.retention import first_kept_day, retention
from server.totals import COUNTS, SECONDS, local_date, totals_from

#: The longest range one request may ask for: two months, so a request's cost stays bounded.
MAX_RANGE_DAYS = 62
#: Days whose local midnights, in any zone, a ``datetime`` can hold (0001-01-01 in UTC+14 cannot).
FIRST_DAY, LAST_DAY = date(1, 1, 2), date(9999, 12, 30)
_NAMES = SECONDS + COUNTS


def check_day(day: date, field: str) -> None:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise Invalid(f"{field}: day out of range", field=field)


def check_range(start: date, end: date, *, fields: tuple[str, str] = ("query.start", "query.end"),
                longest: int | None = MAX_RANGE_DAYS) -> None:
    """An inclusive range of at most ``longest`` days; the refusal names the field to change (the query's, or
    the report command's flags)."""
    first, last = fields
    check_day(start, first)
    check_day(end, last)
    if end < start:
        raise Invalid(f"{last}: end is before start", field=last)
    if longest is not None and (end - start).days + 1 > longest:
        raise Invalid(f"{last}: at most {longest} days at once", field=last)


async def member_days(session: AsyncSession, users: Sequence[User], start: date, end: date, *, now: datetime,
                      settings: Settings, timelines: bool = False) -> dict[int, list[MemberDay]]:
    """Every day of [start, end] (inclusive) of each user, each cut in that user's own zone.

    Days whose minutes are past the retention window (``server.retention.first_kept_day``) are their kept
    ``UserDay`` rows, or zeros, without timelines. Of the others, a range reads the fresh rows and sums the rest
    from the minutes, writing them back for the next reader (``server.days.refresh``) up to the member's local
    today (later days are zeros, written never); a single day with its timeline is always summed from the
    minutes."""
    dates = [start + timedelta(days=k) for k in range((end - start).days + 1)]
    rows = await days.stored(session, [user.id for user in users], start, end)
    kept = {user.id: first_kept_day(now, user.time_zone, settings) for user in users}
    # Days after the member's local today have no minutes yet (ingest refuses minutes not begun): zeros, summed
    # and written never, or any member could fill ``user_days`` with rows up to 9999.
    today = {user.id: local_date(now, user.time_zone) for user in users}
    recent = {(user.id, day): user.time_zone for user in users for day in dates
              if kept[user.id] <= day <= today[user.id]}
    if timelines:
        built = await days.build(session, {user.id: (user.time_zone, [day for day in dates if day >= kept[user.id]])
                                           for user in users}, timelines=True)
    else:
        built, _written = await days.refresh(session, recent, rows, empty=True)

    def one(user: User, day: date) -> MemberDay:
        key = (user.id, day)
        if key in built:
            return built[key].member_day(user.id, user.name)
        row = rows.get(key)
        if row is not None and (key not in recent or days.fresh(row, user.time_zone)):
            return days.member_day(row, user.name)
        return days.Day.empty(day, user.time_zone, timeline=False).member_day(user.id, user.name)

    return {user.id: [one(user, day) for day in dates] for user in users}


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


async def _team(session: AsyncSession, team_id: int) -> tuple[Team, list[User]]:
    team = await session.get(Team, team_id)
    if team is None:
        raise NotFound("team not found")
    users = list(await session.scalars(select(User).where(User.team_id == team.id).order_by(User.name, User.id)))
    return team, users


# --- the answers ----------------------------------------------------------------------------------------------


async def team_day(session: AsyncSession, team_id: int, day: date, *, now: datetime, settings: Settings) -> TeamDay:
    team, users = await _team(session, team_id)
    found = await member_days(session, users, day, day, now=now, settings=settings, timelines=True)
    members = [found[user.id][0] for user in users]
    return TeamDay(team=TeamPublic(id=team.id, name=team.name), date=day, members=members,
                   totals=team_totals(members), retention=retention(team, settings))


async def team_days(session: AsyncSession, team_id: int, start: date, end: date, *, now: datetime,
                    settings: Settings) -> TeamDays:
    team, users = await _team(session, team_id)
    found = await member_days(session, users, start, end, now=now, settings=settings)
    return TeamDays(team=TeamPublic(id=team.id, name=team.name), start=start, end=end,
                    retention=retention(team, settings),
                    members=[MemberDays(user_id=user.id, name=user.name, time_zone=user.time_zone,
                                        days=found[user.id]) for user in users])


async def report(session: AsyncSession, *, team: str, login: str | None, start: date, end: date, now: datetime,
                 settings: Settings) -> TeamDays | MemberDays:
    """``staffpulse-server report``: the team's days, or one member's, as the history routes answer them."""
    found = await session.scalar(select(Team).where(Team.name == team))
    if found is None:
        raise AdminError(f"--team: no team named {team!r}")
    if login is None:
        return await team_days(session, found.id, start, end, now=now, settings=settings)
    user = await session.scalar(select(User).where(User.login == login.lower(), User.team_id == found.id))
    if user is None:
        raise AdminError(f"--user: no user {login!r} in team {team!r}")
    return await one_member_days(session, user, start, end, now=now, settings=settings)


async def one_member_day(session: AsyncSession, user: User, day: date, *, now: datetime,
                         settings: Settings) -> MemberDay:
    found = (await member_days(session, [user], day, day, now=now, settings=settings, timelines=True))[user.id][0]
    return found.model_copy(update={"retention": retention(await session.get_one(Team, user.team_id), settings)})


async def one_member_days(session: AsyncSession, user: User, start: date, end: date, *, now: datetime,
                          settings: Settings) -> MemberDays:
    found = await member_days(session, [user], start, end, now=now, settings=settings)
    return MemberDays(user_id=user.id, name=user.name, time_zone=user.time_zone, days=found[user.id],
                      retention=retention(await session.get_one(Team, user.team_id), settings))
