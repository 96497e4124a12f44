from __future__ import annotations

import logging

from fastapi import APIRouter
from sqlalchemy import text

from protocol.schema import Health
from server import __version__
from server.api.deps import HubDep, SessionDep, SettingsDep
from server.errors import database_error
from server.throttled_log import ThrottledLog

log = logging.getLogger(__name__)

router = APIRouter()

#: A failed check is logged at once, then at most once a minute however often it is asked (one process's
#: probes: a database down is one event, not a line per probe).
FAILURES = ThrottledLog(log, every_s=60)


@router.get("/healthz", response_model_exclude_none=True)
async def healthz(session: SessionDep, hub: HubDep, settings: SettingsDep) -> Health:
    """Liveness for load balancers: whether the database answers; the version and the sockets held only with
    ``serve --health-details``, since anyone may ask (a version tells an attacker which flaws to try)."""
    try:
        await session.execute(text("SELECT 1"))
        database = True
    except Exception as exc:  # any failure to answer is "degraded", never a 500 the balancer cannot read
        FAILURES.warning("health check: the database did not answer: %s", database_error(exc))
        database = False
    if not settings.health_details:
        return Health(status="ok" if database else "degraded", database=database)
    return Health(status="ok" if database else "degraded", version=__version__, database=database,
                  sockets=len(hub.members))
