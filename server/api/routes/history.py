"""A team's and a member's past days (docs/protocol.md, "History"); who may ask is ``server.history``'s rule."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel

from protocol.schema import MemberDay, MemberDays, TeamDay, TeamDays
from server import history
from server.api.deps import NowDep, PrincipalDep, SessionDep, SettingsDep
from server.api.routes import errors
from server.api.routes.me import IsoDay

router = APIRouter()

#: A user id as the database holds it (PostgreSQL's INTEGER): a larger number is refused (422 ``path.user_id``),
#: not sent to the database, where it would fail as a 500.
UserId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _json(answer: BaseModel) -> Response:
    """The answer as its model writes it. Returned as the model, FastAPI would dump it, validate the dump
    again and encode that: for a team's week (350 days of 24 hours) most of the request's time."""
    return Response(answer.model_dump_json(), media_type="application/json")


@router.get("/team/days/{day}", response_model=TeamDay, responses=errors(401, 403, 422))
async def get_team_day(day: IsoDay, principal: PrincipalDep, session: SessionDep, settings: SettingsDep,
                       now: NowDep) -> Response:
    """Every member's local day with its minute timeline, and the team's sum; managers and admins only."""
    history.require_manager(principal)
    history.check_day(day, "path.day")
    return _json(await history.team_day(session, principal.user.team_id, day, now=now, settings=settings))


@router.get("/team/days", response_model=TeamDays, responses=errors(401, 403, 422))
async def get_team_days(start: IsoDay, end: IsoDay, principal: PrincipalDep, session: SessionDep,
                        settings: SettingsDep, now: NowDep) -> Response:
    """Each member's days over an inclusive range of at most 62 dates, without timelines; managers and admins
    only. Days summed from minutes are kept for the next reader (``server.days``), hence the commit."""
    history.require_manager(principal)
    history.check_range(start, end)
    answer = await history.team_days_json(session, principal.user.team_id, start, end, now=now, settings=settings)
    await session.commit()
    return Response(answer, media_type="application/json")


@router.get("/team/members/{user_id}/days/{day}", response_model=MemberDay, responses=errors(401, 403, 404, 422))
async def get_member_day(user_id: UserId, day: IsoDay, principal: PrincipalDep, session: SessionDep,
                         settings: SettingsDep, now: NowDep) -> Response:
    """One member's local day with its minute timeline: the member themself, or a manager or admin of their
    team; anyone else gets the 404 of an unknown id."""
    user = await history.visible_member(session, principal, user_id)
    history.check_day(day, "path.day")
    return _json(await history.one_member_day(session, user, day, now=now, settings=settings))


@router.get("/team/members/{user_id}/days", response_model=MemberDays, responses=errors(401, 403, 404, 422))
async def get_member_days(user_id: UserId, start: IsoDay, end: IsoDay, principal: PrincipalDep,
                          session: SessionDep, settings: SettingsDep, now: NowDep) -> Response:
    """One member's days over an inclusive range of at most 62 dates, without timelines; the same callers as
    the single day."""
    user = await history.visible_member(session, principal, user_id)
    history.check_range(start, end)
    answer = await history.one_member_days_json(session, user, start, end, now=now, settings=settings)
    await session.commit()
    return Response(answer, media_type="application/json")
