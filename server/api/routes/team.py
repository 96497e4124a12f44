from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from protocol.schema import Role, TeamMember, TeamPublic, TeamView
from server import presence
from server.api.deps import HubDep, NowDep, PrincipalDep, SessionDep
from server.api.routes import errors
from server.errors import NotFound
from server.models import Team, User
from server.totals import local_date, today_totals

router = APIRouter()


@router.get("/team", responses=errors(401, 403))
async def get_team(principal: PrincipalDep, session: SessionDep, now: NowDep, hub: HubDep) -> TeamView:
    """The caller's team with live states; managers also get each member's totals for today."""
    team = await session.get(Team, principal.user.team_id)
    if team is None:
        raise NotFound("team not found")
    members = list(await session.scalars(select(User).where(User.team_id == team.id).order_by(User.name)))
    shown = await presence.shown_for(session, [u.id for u in members], hub.connected, now, hub.grace)
    totals = (await today_totals(session, {u.id: u.time_zone for u in members}, now)
              if principal.is_manager else {})
    return TeamView(
        team=TeamPublic(id=team.id, name=team.name),
        date=local_date(now, principal.user.time_zone),
        members=[TeamMember(user_id=u.id, name=u.name, role=Role(u.role), state=shown[u.id].state,
                            since=shown[u.id].since, last_seen=shown[u.id].last_seen, totals=totals.get(u.id))
                 for u in members],
    )
