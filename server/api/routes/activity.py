from __future__ import annotations

from fastapi import APIRouter

from protocol.schema import ActivityBatch, ActivityResult
from server.api.deps import HubDep, NowDep, SessionDep, SettingsDep, WriterDep
from server.api.routes import errors
from server.ingest import store_batch
from server.totals import day_bounds, make_totals, user_minutes

router = APIRouter()


@router.post("/activity", responses=errors(400, 401, 409, 413, 422, 429))
async def post_activity(batch: ActivityBatch, principal: WriterDep, session: SessionDep, now: NowDep,
                        settings: SettingsDep, hub: HubDep) -> ActivityResult:
    """Store a batch of minutes (idempotent), then tell the user and their managers the new totals."""
    result, days = await store_batch(session, principal, batch, now=now, settings=settings)
    user = principal.user
    windows = {day: day_bounds(day, user.time_zone) for day in sorted(days)}
    totals = {day: make_totals((await user_minutes(session, {user.id: window}))[user.id])
              for day, window in windows.items()}
    await session.commit()
    for day, day_totals in totals.items():
        await hub.emit_performance(user, day, day_totals)
    return result
