from __future__ import annotations

from fastapi import APIRouter

from protocol.schema import PresenceAck, PresenceState, PresenceUpdate
from server import presence
from server.api.deps import HubDep, NowDep, SessionDep, WriterDep
from server.api.routes import errors
from server.models import DevicePresence

router = APIRouter()


@router.put("/presence", responses=errors(400, 401, 413, 422, 429))
async def put_presence(update: PresenceUpdate, principal: WriterDep, session: SessionDep, now: NowDep,
                       hub: HubDep) -> PresenceAck:
    """Record this device's state; an update older (by ``seq``) than the stored one is ignored."""
    row = await session.get(DevicePresence, principal.device.id)
    applied = row is None or update.seq > row.seq
    if row is None:
        row = DevicePresence(device_id=principal.device.id, state=update.state, since=update.since,
                             seq=update.seq)
        session.add(row)
    elif applied:
        row.state, row.since, row.seq = update.state, update.since, update.seq
    await session.flush()
    events = await presence.refresh(session, [principal.user.id], hub.connected, now, hub.grace)
    await session.commit()
    await hub.emit_presence(events)
    return PresenceAck(applied=applied, state=PresenceState(row.state), since=row.since)
