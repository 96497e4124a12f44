from __future__ import annotations

from datetime import date

from fastapi import APIRouter

from protocol.schema import DayReport, Me, Policy, TeamPublic
from server.api.deps import NowDep, PrincipalDep, SessionDep
from server.enrollment import public_user
from server.errors import NotFound
from server.models import Team
from server.totals import day_bounds, make_totals, user_minutes

router = APIRouter()


@router.get("/me")
async def get_me(principal: PrincipalDep, session: SessionDep, now: NowDep) -> Me:
    """Who this device belongs to, the team's policy, and the server's clock for a skew check."""
    team = await session.get(Team, principal.user.team_id)
    if team is None:
        raise NotFound("team not found")
    await session.commit()  # last_seen
    return Me(user=public_user(principal.user), team=TeamPublic(id=team.id, name=team.name),
              device_id=principal.device.id,
              policy=Policy(idle_threshold_s=team.idle_threshold_s, sync_interval_s=team.sync_interval_s,
                            pause_allowed=team.pause_allowed),
              server_time=now)


@router.get("/me/days/{day}")
async def get_my_day(day: date, principal: PrincipalDep, session: SessionDep) -> DayReport:
    """One local day of the caller: totals and minutes, the day cut in the user's own time zone."""
    zone = principal.user.time_zone
    minutes = (await user_minutes(session, {principal.user.id: day_bounds(day, zone)}))[principal.user.id]
    await session.commit()
    return DayReport(date=day, time_zone=zone, totals=make_totals(minutes), slots=minutes)
