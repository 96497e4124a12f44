from __future__ import annotations

from fastapi import APIRouter, Request

from protocol.schema import ActivityBatch, ActivityResult
from server.api.deps import HubDep, NowDep, SettingsDep, WriterDep
from server.api.routes import errors
from server.ingest import Ingest

router = APIRouter()


@router.post("/activity", responses=errors(400, 401, 403, 409, 413, 422, 429))
async def post_activity(batch: ActivityBatch, principal: WriterDep, now: NowDep, settings: SettingsDep,
                        hub: HubDep, request: Request) -> ActivityResult:
    """Store a batch of minutes (idempotent; committed with the uploads arriving meanwhile); the user and their
    managers hear the new day totals from the hub's next flush, right after."""
    ingest: Ingest = request.app.state.ingest
    result, days = await ingest.store(principal, batch, now=now, settings=settings)
    hub.totals_changed(principal.user, days)
    return result
