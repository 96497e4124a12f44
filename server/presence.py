"""Who is active, on break, idle, away or offline — decided from every device of a user.

The pure part (``effective``) is what a test checks edge by edge: a user shows the most present state of
the devices that are connected or were seen within the grace period; with none left, the user is offline
since the last moment any device was seen. ``refresh`` applies it to the database and returns the
``presence`` events to broadcast, only for users whose shown state actually changed.

Several server processes may refresh the same user at once (each sweeper, a REST call). The stored row is
changed with a compare-and-set, and only the process whose write changed it announces the change, so the
team hears of it once.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from protocol.schema import PRESENCE_RANK, PresenceEvent, PresenceState
from server.models import Device, DevicePresence, User, UserPresence

#: Which of these devices hold a socket on any server process, and since when (``Registry.connected``).
ConnectedLookup = Callable[[Collection[int]], Awaitable[Mapping[int, datetime]]]


@dataclasses.dataclass(frozen=True, kw_only=True)
class DeviceStatus:
    connected: bool
    last_seen: datetime | None
    state: PresenceState | None = None
    since: datetime | None = None
    #: When the device's socket connected, if it is connected.
    connected_since: datetime | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class Shown:
    state: PresenceState
    since: datetime | None
    last_seen: datetime | None
    #: ``since`` is a guess (a device that has not reported: since it connected or was last seen), not a
    #: reported moment; a guess that moves while the state stays is not news.
    since_estimated: bool = False


def effective(devices: Iterable[DeviceStatus], now: datetime, grace: timedelta) -> Shown:
    devices = list(devices)
    seen = [d.last_seen for d in devices if d.last_seen is not None]
    last_seen = now if any(d.connected for d in devices) else max(seen, default=None)
    present = [d for d in devices
               if d.connected or (d.last_seen is not None and now - d.last_seen <= grace)]
    if not present:
        return Shown(state=PresenceState.OFFLINE, since=last_seen, last_seen=last_seen)

    def reported(d: DeviceStatus) -> tuple[PresenceState, datetime | None, bool]:
        # A device that connected but has not reported yet counts as active since it connected, else since it
        # was last seen: an estimate, flagged so.
        if d.state is not None:
            return d.state, d.since, False
        return PresenceState.ACTIVE, d.connected_since or d.last_seen, True

    # The most present state wins; between equals, a reported one over an estimate.
    state, since, estimated = min((reported(d) for d in present),
                                  key=lambda shown: (PRESENCE_RANK[shown[0]], shown[2]))
    return Shown(state=state, since=since, last_seen=last_seen, since_estimated=estimated)


async def shown_for(session: AsyncSession, user_ids: Collection[int], connected: ConnectedLookup,
                    now: datetime, grace: timedelta) -> dict[int, Shown]:
    """The presence to show for each user, from their devices that are not revoked."""
    rows = (await session.execute(
        select(Device.id, Device.user_id, Device.last_seen, DevicePresence.state, DevicePresence.since)
        .outerjoin(DevicePresence, DevicePresence.device_id == Device.id)
        .where(Device.user_id.in_(list(user_ids)), Device.revoked_at.is_(None))
    )).all()
    live = await connected([row[0] for row in rows])
    by_user: dict[int, list[DeviceStatus]] = defaultdict(list)
    for device_id, user_id, last_seen, state, since in rows:
        by_user[user_id].append(DeviceStatus(
            connected=device_id in live, last_seen=last_seen, connected_since=live.get(device_id),
            state=PresenceState(state) if state else None, since=since))
    return {uid: effective(by_user[uid], now, grace) for uid in user_ids}


async def store_shown(session: AsyncSession, user_id: int, before: tuple[str, datetime] | None,
                      after: tuple[PresenceState, datetime]) -> bool:
    """Write ``after`` if the row still holds ``before`` (absent: no row); whether this write changed it."""
    state, since = after
    if before is None:
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        statement = (dialect.insert(UserPresence).values(user_id=user_id, state=state, since=since)
                     .on_conflict_do_nothing())
        result = await session.execute(statement)
    else:
        result = await session.execute(
            update(UserPresence)
            .where(UserPresence.user_id == user_id, UserPresence.state == before[0],
                   UserPresence.since == before[1])
            .values(state=state, since=since),
            execution_options={"synchronize_session": False})
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def refresh(session: AsyncSession, user_ids: Collection[int], connected: ConnectedLookup,
                  now: datetime, grace: timedelta) -> list[tuple[int, PresenceEvent]]:
    """Store each user's shown presence; return ``(team_id, event)`` for those this call changed.

    The caller commits, then broadcasts — so nobody hears of a state the database does not hold.
    """
    if not user_ids:
        return []
    shown = await shown_for(session, user_ids, connected, now, grace)
    users = {u.id: u for u in await session.scalars(select(User).where(User.id.in_(list(user_ids))))}
    stored = {uid: (state, since) for uid, state, since in await session.execute(
        select(UserPresence.user_id, UserPresence.state, UserPresence.since)
        .where(UserPresence.user_id.in_(list(user_ids))))}
    events = []
    for uid, now_shown in sorted(shown.items()):  # one row order for every writer: no deadlocks between them
        after = (now_shown.state, now_shown.since or now)
        before = stored.get(uid)
        if before is None and now_shown.state is PresenceState.OFFLINE:
            continue  # never seen: nothing to announce
        if before is not None and before[0] == after[0] and (before[1] == after[1] or now_shown.since_estimated):
            continue  # unchanged, or only an estimated "since" moved (last_seen refreshed by a sweep)
        if not await store_shown(session, uid, before, after):
            continue  # another process stored (and announces) a newer state first
        user = users[uid]
        events.append((user.team_id, PresenceEvent(user_id=uid, name=user.name, state=after[0], since=after[1])))
    return events
