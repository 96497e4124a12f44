from __future__ import annotations

import asyncio
import contextlib

from fastapi import APIRouter
from sqlalchemy.dialects import postgresql, sqlite

from protocol.schema import PresenceAck, PresenceState, PresenceUpdate
from server.api.deps import HubDep, SessionDep, WriterDep
from server.api.routes import errors
from server.models import DevicePresence

router = APIRouter()

#: Longest a presence PUT waits for its announcement before answering anyway (its state is stored already).
ANNOUNCE_WAIT_S = 5.0


@router.put("/presence", responses=errors(400, 401, 413, 422, 429))
async def put_presence(update: PresenceUpdate, principal: WriterDep, session: SessionDep, hub: HubDep) -> PresenceAck:
    """Record this device's state; an update older (by ``seq``) than the stored one is ignored.

    One upsert that writes only a newer ``seq`` and returns the row it wrote, then the commit; the user's shown
    presence is refreshed and announced by the hub's next coalesced pass, so a storm of updates from a whole
    company costs a few refresh transactions rather than four more round trips per update. The answer waits
    for that announcement (at most ``ANNOUNCE_WAIT_S``).
    """
    device_id = principal.device.id
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    insert = dialect.insert(DevicePresence).values(device_id=device_id, state=update.state, since=update.since,
                                                   seq=update.seq)
    written = (await session.execute(insert.on_conflict_do_update(
        index_elements=[DevicePresence.device_id],
        set_={"state": insert.excluded.state, "since": insert.excluded.since, "seq": insert.excluded.seq},
        where=insert.excluded.seq > DevicePresence.seq,
    ).returning(DevicePresence.state, DevicePresence.since))).first()
    if written is None:  # an older or repeated seq: nothing written, answer with what is stored
        stored = await session.get(DevicePresence, device_id)
        assert stored is not None  # the conflict that skipped the write is this very row
        state, since = stored.state, stored.since
    else:
        state, since = written
    await session.commit()
    if written is not None:
        # Answer once the team has been told, as a client would expect; a pass that cannot run (database down)
        # leaves the write stored and announced later, so the answer does not wait for it for ever.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(hub.refresh(principal.user.id)), ANNOUNCE_WAIT_S)
    return PresenceAck(applied=written is not None, state=PresenceState(state), since=since)
