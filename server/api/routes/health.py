from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from protocol.schema import Health
from server import __version__
from server.api.deps import HubDep, SessionDep

router = APIRouter()


@router.get("/healthz")
async def healthz(session: SessionDep, hub: HubDep) -> Health:
    """Liveness for load balancers: the version, whether the database answers, sockets held."""
    try:
        await session.execute(text("SELECT 1"))
        database = True
    except Exception:
        database = False
    return Health(status="ok" if database else "degraded", version=__version__, database=database,
                  sockets=len(hub.members))
