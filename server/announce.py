"""Tells a user's devices that a new device of theirs became active: the ``device-enrolled`` socket event; the
same pass announces roster changes (``server.roster``).

A device enrolled with a colleague's login (a deployment key is readable by all staff) should not go
unnoticed by the real person. Devices are announced from the database, not from the request that enrolled
them: ``devices approve`` runs in the admin CLI, another process with no sockets, so every server process
looks every ``interval_s`` for active devices not yet announced, claims them with one ``UPDATE … WHERE
announced_at IS NULL`` (of several processes exactly one wins each device) and emits to ``user:<id>``, which
the socket manager (Redis with several processes) delivers wherever the user's sockets are.

A device not connected at that moment would never hear of it, so ``GET /me`` repeats the news (``recent``):
every device of the user that became active after the asking device was enrolled, within ``RECENT``. The agent
reads it whenever its live connection (re)connects.

A socket's rooms are chosen at connect (``server.gateway.rooms_for``), so a manager demoted by ``users rename
--role member`` would keep hearing ``team-performance-update`` until it reconnected. Every process's pass
(``regroup``) therefore reads the roster changes made since its last pass (all of them, not only those it
claimed: each process holds its own sockets) and disconnects its sockets of a changed user whose rooms no
longer fit the user's role or team; the client reconnects at once and gets the rooms of its new role, a
promoted member's the managers' room too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import socketio
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from protocol.schema import DeviceEnrolledEvent, Role, RosterChangeKind, RosterEvent
from server import roster
from server.errors import UNAVAILABLE
from server.gateway import rooms_for
from server.models import DeploymentKey, Device, RosterChange

log = logging.getLogger(__name__)

EVENT = "device-enrolled"
#: How long ``GET /me`` keeps telling a user's other devices of a new one.
RECENT = timedelta(days=7)


def event_for(device: Device, key_name: str | None) -> DeviceEnrolledEvent:
    return DeviceEnrolledEvent(device_id=device.id, name=device.name, platform=device.platform,
                               enrolled_via=device.enrolled_via, key_name=key_name, enrolled_at=device.created_at,
                               approved_at=device.approved_at)


async def recent(session: AsyncSession, device: Device, now: datetime) -> list[DeviceEnrolledEvent]:
    """The devices of ``device``'s user that became active (enrolled, or approved) after ``device`` was enrolled
    and within ``RECENT`` of ``now``, oldest first: the news a device may have missed while it was away."""
    became_active = func.coalesce(Device.approved_at, Device.created_at)
    rows = await session.execute(
        select(Device, DeploymentKey.name)
        .outerjoin(DeploymentKey, DeploymentKey.id == Device.deployment_key_id)
        .where(Device.user_id == device.user_id, Device.id != device.id, Device.pending.is_(False),
               Device.revoked_at.is_(None), became_active > max(device.created_at, now - RECENT))
        .order_by(became_active))
    return [event_for(other, key_name) for other, key_name in rows]


class Announcer:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], sio: socketio.AsyncServer,
                 clock: Callable[[], datetime], interval_s: float) -> None:
        self.sessions, self.sio, self.clock, self.interval_s = sessions, sio, clock, interval_s
        self._task: asyncio.Task[None] | None = None
        #: The last roster change ``regroup`` looked at; None until its first pass, which starts from the newest.
        self._regrouped: int | None = None

    async def announce(self) -> int:
        """One pass: emit ``device-enrolled`` for each active device not yet announced; how many were."""
        unannounced = (Device.announced_at.is_(None), Device.pending.is_(False), Device.revoked_at.is_(None))
        async with self.sessions() as session:
            rows = (await session.execute(
                select(Device, DeploymentKey.name)
                .outerjoin(DeploymentKey, DeploymentKey.id == Device.deployment_key_id).where(*unannounced))).all()
            if not rows:
                return 0
            claimed = set(await session.scalars(update(Device).where(
                Device.id.in_([device.id for device, _ in rows]), *unannounced)
                .values(announced_at=self.clock()).returning(Device.id)))
            await session.commit()
        for device, key_name in rows:
            if device.id in claimed:
                event = event_for(device, key_name)
                await self.sio.emit(EVENT, event.model_dump(mode="json"), room=f"user:{device.user_id}")
        return len(claimed)

    async def announce_roster(self) -> int:
        """One pass: emit ``roster`` (``server.roster``) for each change not yet announced, oldest first, to the
        team's room; how many were."""
        async with self.sessions() as session:
            rows = list(await session.scalars(select(RosterChange).where(RosterChange.announced_at.is_(None))
                                              .order_by(RosterChange.id)))
            if not rows:
                return 0
            claimed = set(await session.scalars(
                update(RosterChange).where(RosterChange.id.in_([row.id for row in rows]),
                                           RosterChange.announced_at.is_(None))
                .values(announced_at=self.clock()).returning(RosterChange.id)))
            await session.commit()
        for row in rows:
            if row.id in claimed:
                event = RosterEvent(user_id=row.user_id, name=row.name, role=Role(row.role),
                                    change=RosterChangeKind(row.change))
                await self.sio.emit(roster.EVENT, event.model_dump(mode="json"), room=f"team:{row.team_id}")
        return len(claimed)

    async def regroup(self) -> int:
        """One pass: disconnect this process's sockets of users whose role or team changed since the last pass
        (``roster_changes``) and whose rooms no longer fit it; how many were."""
        async with self.sessions() as session:
            if self._regrouped is None:  # sockets connecting from now on get the rooms of the roles stored now
                self._regrouped = await session.scalar(select(func.max(RosterChange.id))) or 0
                return 0
            rows = (await session.execute(
                select(RosterChange.id, RosterChange.user_id, RosterChange.team_id, RosterChange.role)
                .where(RosterChange.id > self._regrouped).order_by(RosterChange.id))).all()
        if not rows:
            return 0
        self._regrouped = rows[-1].id
        latest = {row.user_id: (row.team_id, Role(row.role)) for row in rows}
        dropped = 0
        for user_id, (team_id, role) in latest.items():
            fitting = set(rooms_for(user_id, team_id, role))
            for sid, _eio_sid in list(self.sio.manager.get_participants("/", f"user:{user_id}")):
                if set(self.sio.rooms(sid)) - {sid} != fitting:
                    await self.sio.disconnect(sid)
                    dropped += 1
        if dropped:
            log.info("disconnected %d sockets whose user's role or team changed, to rejoin their rooms", dropped)
        return dropped

    async def _run(self) -> None:
        passes = (("new devices", self.announce), ("roster changes", self.announce_roster),
                  ("rooms of changed roles", self.regroup))
        while True:
            await asyncio.sleep(self.interval_s)
            for what, announce in passes:
                try:
                    await announce()
                except UNAVAILABLE as exc:  # a busy database: the rows stay unannounced until the next pass
                    log.warning("announcing %s failed, next pass retries: %s", what, exc)
                except Exception:  # a bug in one pass must not end announcing for the life of the process
                    log.exception("announcing %s failed", what)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="announce-devices")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
