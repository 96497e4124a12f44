from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BeforeValidator

from protocol.schema import DayReport, Me, Policy, TeamPublic
from server.announce import recent
from server.api.deps import NowDep, PrincipalDep, SessionDep
from server.api.routes import errors
from server.enrollment import public_user
from server.errors import Invalid, NotFound
from server.models import Team
from server.totals import day_bounds, make_totals, merged_minutes

router = APIRouter()

_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_day(value: Any) -> Any:
    """Only ``YYYY-MM-DD``: pydantic alone would read ``/me/days/0`` as a Unix time, 1970-01-01."""
    if isinstance(value, str) and not _ISO_DAY.fullmatch(value):
        raise ValueError("day must be a date as YYYY-MM-DD")
    return value


IsoDay = Annotated[date, BeforeValidator(_iso_day)]


@router.get("/me", responses=errors(401, 403))
async def get_me(principal: PrincipalDep, session: SessionDep, now: NowDep) -> Me:
    """Who this device belongs to, the team's policy, the server's clock for a skew check, and the user's devices
    enrolled since this one (``server.announce.recent``)."""
    team = await session.get(Team, principal.user.team_id)
    if team is None:
        raise NotFound("team not found")
    return Me(user=public_user(principal.user), team=TeamPublic(id=team.id, name=team.name),
              device_id=principal.device.id,
              policy=Policy(idle_threshold_s=team.idle_threshold_s, sync_interval_s=team.sync_interval_s,
                            pause_allowed=team.pause_allowed),
              server_time=now, new_devices=await recent(session, principal.device, now))


@router.get("/me/days/{day}", responses=errors(401, 403, 422))
async def get_my_day(day: IsoDay, principal: PrincipalDep, session: SessionDep) -> DayReport:
    """One local day of the caller: totals and minutes, the day cut in the user's own time zone."""
    zone = principal.user.time_zone
    try:
        bounds = day_bounds(day, zone)
    except OverflowError:  # 0001-01-01 or 9999-12-31: the local day reaches past what a datetime holds
        raise Invalid("path.day: day out of range", field="path.day") from None
    minutes = await merged_minutes(session, principal.user.id, bounds)
    return DayReport(date=day, time_zone=zone, totals=make_totals(minutes), slots=minutes)
