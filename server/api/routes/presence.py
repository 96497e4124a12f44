from __future__ import annotations

from fastapi import APIRouter

from protocol.schema import PresenceAck, PresenceUpdate
from server.api.deps import HubDep, NowDep, WriterDep
from server.api.routes import errors
from server.presence import admit

router = APIRouter()


@router.put("/presence", responses=errors(400, 401, 403, 413, 422, 429))
async def put_presence(update: PresenceUpdate, principal: WriterDep, now: NowDep, hub: HubDep) -> PresenceAck:
    """Record this device's state; an update older (by ``seq`` and ``since``) than the stored one is ignored,
    and one beginning after the server's clock is shown from now (``server.presence.admit``).

    The hub's next coalesced pass stores every report since the last one in two statements, refreshes the
    users' shown presence and announces it; this answers once the pass has committed. A storm of updates from
    a whole company thus costs a few transactions, not one each queued on the database connection.
    """
    return await hub.report(principal.user.id, admit(principal.device, update.state, update.since, update.seq,
                                                     now=now))
