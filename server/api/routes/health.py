from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from protocol.schema import Health
from server import __version__
from server.api.deps import HubDep, SessionDep, SettingsDep

router = APIRouter()


@router.get("/healthz", response_model_exclude_none=True)
async def healthz(session: SessionDep, hub: HubDep, settings: SettingsDep) -> Health:
    """Liveness for load balancers: whether the database answers; the version and the sockets held only with
    ``serve --health-details``, since anyone may ask (a version tells an attacker which flaws to try)."""
    try:
        await session.execute(text("SELECT 1"))
        database = True
    except Exception:
        database = False
    if not settings.health_details:
        return Health(status="ok" if database else "degraded", database=database)
    return Health(status="ok" if database else "degraded", version=__version__, database=database,
                  sockets=len(hub.members))
