"""The live side: python-socketio at ``/api/socket``, rooms derived from the token, presence sweeps.

A client authenticates in the handshake (``auth={"token": …}``) and is put in its rooms by the server:
``user:{id}``, ``team:{id}`` and, for managers and admins, ``managers:{id}``. Clients cannot name rooms; any
event a client emits (the seed's ``join-user``/``join-team`` included) is ignored.

One socket per device: a device that connects again replaces its older socket, so reconnect storms never
pile up sessions. A sweeper task marks users offline after the grace period, refreshes ``last_seen`` of
connected devices, and disconnects sockets whose device was revoked by another process (the admin CLI).

With ``redis_url`` set, several server processes act as one: python-socketio's Redis manager carries every
emit (and the disconnect of a replaced socket) to all processes, and the device registry lives in Redis
(see ``server.registry``). Without it, everything stays in this process's memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Callable, Collection, Iterable
from datetime import date, datetime, timedelta
from typing import Any

import socketio
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from protocol.schema import PerformanceEvent, PresenceEvent, PresenceState, Role, Totals
from server import presence
from server.auth import authenticate
from server.config import Settings
from server.errors import ApiError
from server.models import Device, User, UserPresence
from server.registry import Claim, Registry

log = logging.getLogger(__name__)

SOCKET_PATH = "/api/socket"

#: The Redis pub/sub channel the server processes share socket.io traffic on.
REDIS_CHANNEL = "staffpulse:socketio"


@dataclasses.dataclass(frozen=True)
class Member:
    """One of this process's sockets: the device it claims, and whose it is."""

    claim: Claim
    user_id: int
    team_id: int


def rooms_for(user: User) -> list[str]:
    rooms = [f"user:{user.id}", f"team:{user.team_id}"]
    if user.role in (Role.MANAGER, Role.ADMIN):
        rooms.append(f"managers:{user.team_id}")
    return rooms


class LiveHub:
    def __init__(self, settings: Settings, sessions: async_sessionmaker[AsyncSession],
                 clock: Callable[[], datetime], registry: Registry) -> None:
        self.settings, self.sessions, self.clock, self.registry = settings, sessions, clock, registry
        manager = (socketio.AsyncRedisManager(settings.redis_url, channel=REDIS_CHANNEL)
                   if settings.redis_url else None)
        self.sio = socketio.AsyncServer(
            async_mode="asgi", client_manager=manager, cors_allowed_origins=[], logger=False,
            engineio_logger=False, ping_interval=settings.ping_interval_s, ping_timeout=settings.ping_timeout_s,
            max_http_buffer_size=64 * 1024,
        )
        #: This process's sockets; the registry knows every process's.
        self.members: dict[str, Member] = {}
        self._sweeper: asyncio.Task[None] | None = None
        self.sio.on("connect", self._on_connect)
        self.sio.on("disconnect", self._on_disconnect)
        self.sio.on("*", self._on_other)

    @property
    def grace(self) -> timedelta:
        return timedelta(seconds=self.settings.offline_grace_s)

    async def connected(self, device_ids: Collection[int]) -> dict[int, datetime]:
        """Those of ``device_ids`` with a socket on any server process, and since when."""
        return await self.registry.connected(device_ids)

    # --- socket handlers ---------------------------------------------------------------------------------

    async def _on_connect(self, sid: str, _environ: dict[str, Any], auth: Any) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        if not isinstance(token, str):
            raise socketio.exceptions.ConnectionRefusedError(
                "missing token: connect with auth={'token': '<device token>'}")
        async with self.sessions() as session:
            try:
                principal = await authenticate(session, token)
            except ApiError as exc:
                raise socketio.exceptions.ConnectionRefusedError(exc.message) from None
            user, device_id = principal.user, principal.device.id
            now = principal.device.last_seen = self.clock()
            member = self.members[sid] = Member(Claim(device_id, sid, now), user.id, user.team_id)
            try:
                previous = await self.registry.claim(member.claim)
                for room in rooms_for(user):
                    await self.sio.enter_room(sid, room)
                events = await presence.refresh(session, [user.id], self.connected, now, self.grace)
                await session.commit()
            except BaseException:  # a failed connection gets no disconnect: leave nothing of it behind
                del self.members[sid]
                await self.registry.release(member.claim)
                raise
        if previous is not None and previous != sid:
            await self.sio.disconnect(previous)  # on another process, the Redis manager passes it on
        await self.emit_presence(events)

    async def _on_disconnect(self, sid: str, _reason: Any = None) -> None:
        member = self.members.pop(sid, None)
        if member is None:
            return
        if await self.registry.release(member.claim):
            async with self.sessions() as session:
                await session.execute(update(Device).where(Device.id == member.claim.device_id)
                                      .values(last_seen=self.clock()))
                await session.commit()

    async def _on_other(self, event: str, sid: str, *_args: Any) -> None:
        log.debug("ignored client event %r from %s", event, sid)

    # --- emitting ----------------------------------------------------------------------------------------

    async def emit_presence(self, events: Iterable[tuple[int, PresenceEvent]]) -> None:
        for team_id, event in events:
            await self.sio.emit("presence", event.model_dump(mode="json"), room=f"team:{team_id}")

    async def emit_performance(self, user: User, day: date, totals: Totals) -> None:
        payload = PerformanceEvent(user_id=user.id, date=day, totals=totals).model_dump(mode="json")
        await self.sio.emit("performance-update", payload, room=f"user:{user.id}")
        await self.sio.emit("team-performance-update", payload, room=f"managers:{user.team_id}")

    # --- sweeping ----------------------------------------------------------------------------------------

    async def sweep(self) -> None:
        """One pass: renew this process's leases and last_seen, close replaced and revoked sockets, announce
        users gone offline."""
        now = self.clock()
        replaced = await self.registry.renew([m.claim for m in reversed(self.members.values())])  # newest first
        local = {m.claim.device_id for sid, m in self.members.items() if sid not in replaced}
        async with self.sessions() as session:
            if local:
                await session.execute(update(Device).where(Device.id.in_(local)).values(last_seen=now))
                revoked = set(await session.scalars(select(Device.id).where(
                    Device.id.in_(local), Device.revoked_at.is_not(None))))
            else:
                revoked = set()
            shown = list(await session.scalars(select(UserPresence.user_id).where(
                UserPresence.state != PresenceState.OFFLINE)))
            events = await presence.refresh(session, shown, self.connected, now, self.grace)
            await session.commit()
        for sid, member in list(self.members.items()):
            if sid in replaced or member.claim.device_id in revoked:
                await self.sio.disconnect(sid)
        await self.emit_presence(events)

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.sweep_interval_s)
            try:
                await self.sweep()
            except Exception:  # a failed pass (database busy, say) must not end sweeping for good
                log.exception("presence sweep failed")

    def start(self) -> None:
        if self.settings.redis_url and not self.sio.manager_initialized:
            # Subscribe to the other processes' events now rather than at the first connection, so an event
            # emitted elsewhere just after a client connects here is not missed.
            self.sio.manager_initialized = True
            self.sio.manager.initialize()
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="presence-sweeper")

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        await self.registry.close()
