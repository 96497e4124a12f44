"""Who is active, on break, idle, away or offline — decided from every device of a user.

The pure part (``effective``) is what a test checks edge by edge: a user shows the most present state of
the devices that are connected or were seen within the grace period; with none left, the user is offline
since the last moment any device was seen. ``refresh`` applies it to the database and returns the
``presence`` events to broadcast, only for users whose shown state actually changed.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Collection, Iterable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from protocol.schema import PRESENCE_RANK, PresenceEvent, PresenceState
from server.models import Device, DevicePresence, User, UserPresence


@dataclasses.dataclass(frozen=True, kw_only=True)
class DeviceStatus:
    connected: bool
    last_seen: datetime | None
    state: PresenceState | None = None
    since: datetime | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class Shown:
    state: PresenceState
    since: datetime | None
    last_seen: datetime | None


def effective(devices: Iterable[DeviceStatus], now: datetime, grace: timedelta) -> Shown:
    devices = list(devices)
    seen = [d.last_seen for d in devices if d.last_seen is not None]
    last_seen = now if any(d.connected for d in devices) else max(seen, default=None)
    present = [d for d in devices
               if d.connected or (d.last_seen is not None and now - d.last_seen <= grace)]
    if not present:
        return Shown(state=PresenceState.OFFLINE, since=last_seen, last_seen=last_seen)

    def reported(d: DeviceStatus) -> tuple[PresenceState, datetime | None]:
        # A device that connected but has not reported yet counts as active since it was last seen.
        return (d.state, d.since) if d.state is not None else (PresenceState.ACTIVE, d.last_seen)

    state, since = min((reported(d) for d in present), key=lambda pair: PRESENCE_RANK[pair[0]])
    return Shown(state=state, since=since, last_seen=last_seen)


async def shown_for(session: AsyncSession, user_ids: Collection[int], connected: Collection[int],
                    now: datetime, grace: timedelta) -> dict[int, Shown]:
    """The presence to show for each user, from their devices that are not revoked."""
    rows = await session.execute(
        select(Device.id, Device.user_id, Device.last_seen, DevicePresence.state, DevicePresence.since)
        .outerjoin(DevicePresence, DevicePresence.device_id == Device.id)
        .where(Device.user_id.in_(list(user_ids)), Device.revoked_at.is_(None))
    )
    by_user: dict[int, list[DeviceStatus]] = defaultdict(list)
    for device_id, user_id, last_seen, state, since in rows:
        by_user[user_id].append(DeviceStatus(
            connected=device_id in connected, last_seen=last_seen,
            state=PresenceState(state) if state else None, since=since))
    return {uid: effective(by_user[uid], now, grace) for uid in user_ids}


async def refresh(session: AsyncSession, user_ids: Collection[int], connected: Collection[int],
                  now: datetime, grace: timedelta) -> list[tuple[int, PresenceEvent]]:
    """Store each user's shown presence; return ``(team_id, event)`` for those that changed.

    The caller commits, then broadcasts — so nobody hears of a state the database does not hold.
    """
    if not user_ids:
        return []
    shown = await shown_for(session, user_ids, connected, now, grace)
    users = {u.id: u for u in await session.scalars(select(User).where(User.id.in_(list(user_ids))))}
    stored = {p.user_id: p for p in await session.scalars(
        select(UserPresence).where(UserPresence.user_id.in_(list(user_ids))))}
    events = []
    for uid, now_shown in shown.items():
        since = now_shown.since or now
        before = stored.get(uid)
        if before is None:
            if now_shown.state is PresenceState.OFFLINE:
                continue  # never seen: nothing to announce
            session.add(UserPresence(user_id=uid, state=now_shown.state, since=since))
        elif before.state == now_shown.state and before.since == since:
            continue
        else:
            before.state, before.since = now_shown.state, since
        user = users[uid]
        events.append((user.team_id, PresenceEvent(user_id=uid, name=user.name, state=now_shown.state,
                                                   since=since)))
    return events
