"""A team's and a member's past days (docs/protocol.md, "History"); who may ask is ``server.history``'s rule."""

from __future__ import annotations

from fastapi import APIRouter

from protocol.schema import MemberDay, MemberDays, TeamDay, TeamDays
from server import history
from server.api.deps import PrincipalDep, SessionDep, SettingsDep
from server.api.routes import errors
from server.api.routes.me import IsoDay

router = APIRouter()


@router.get("/team/days/{day}", responses=errors(401, 403, 422))
async def get_team_day(day: IsoDay, principal: PrincipalDep, session: SessionDep, settings: SettingsDep) -> TeamDay:
    """Every member's local day with its minute timeline, and the team's sum; managers and admins only."""
    history.require_manager(principal)
    history.check_day(day, "path.day")
    return await history.team_day(session, principal.user.team_id, day, settings)


@router.get("/team/days", responses=errors(401, 403, 422))
async def get_team_days(start: IsoDay, end: IsoDay, principal: PrincipalDep, session: SessionDep,
                        settings: SettingsDep) -> TeamDays:
    """Each member's days over an inclusive range of at most 62 dates, without timelines; managers and admins
    only."""
    history.require_manager(principal)
    history.check_range(start, end)
    return await history.team_days(session, principal.user.team_id, start, end, settings)


@router.get("/team/members/{user_id}/days/{day}", responses=errors(401, 403, 404, 422))
async def get_member_day(user_id: int, day: IsoDay, principal: PrincipalDep, session: SessionDep) -> MemberDay:
    """One member's local day with its minute timeline: the member themself, or a manager or admin of their
    team; anyone else gets the 404 of an unknown id."""
    user = await history.visible_member(session, principal, user_id)
    history.check_day(day, "path.day")
    return await history.one_member_day(session, user, day)


@router.get("/team/members/{user_id}/days", responses=errors(401, 403, 404, 422))
async def get_member_days(user_id: int, start: IsoDay, end: IsoDay, principal: PrincipalDep,
                          session: SessionDep) -> MemberDays:
    """One member's days over an inclusive range of at most 62 dates, without timelines; the same callers as
    the single day."""
    user = await history.visible_member(session, principal, user_id)
    history.check_range(start, end)
    return await history.one_member_days(session, user, start, end)
