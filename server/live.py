"""The live side: python-socketio at ``/api/socket``, rooms derived from the token, presence sweeps.

A client authenticates in the handshake (``auth={"token": …}``) and is put in its rooms by the server:
``user:{id}``, ``team:{id}`` and, for managers and admins, ``managers:{id}``. Clients cannot name rooms; any
event a client emits (the seed's ``join-user``/``join-team`` included) is ignored.

One socket per device: a device that connects again replaces its older socket, so reconnect storms never
pile up sessions. A sweeper task marks users offline after the grace period, refreshes ``last_seen`` of
connected devices, and disconnects sockets whose device was revoked by another process (the admin CLI).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Callable, Iterable
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

log = logging.getLogger(__name__)

SOCKET_PATH = "/api/socket"


@dataclasses.dataclass(frozen=True)
class Member:
    device_id: int
    user_id: int
    team_id: int


def rooms_for(user: User) -> list[str]:
    rooms = [f"user:{user.id}", f"team:{user.team_id}"]
    if user.role in (Role.MANAGER, Role.ADMIN):
        rooms.append(f"managers:{user.team_id}")
    return rooms


class LiveHub:
    def __init__(self, settings: Settings, sessions: async_sessionmaker[AsyncSession],
                 clock: Callable[[], datetime]) -> None:
        self.settings, self.sessions, self.clock = settings, sessions, clock
        self.sio = socketio.AsyncServer(
            async_mode="asgi", cors_allowed_origins=[], logger=False, engineio_logger=False,
            ping_interval=settings.ping_interval_s, ping_timeout=settings.ping_timeout_s,
            max_http_buffer_size=64 * 1024,
        )
        self.members: dict[str, Member] = {}
        self.socket_of_device: dict[int, str] = {}
        self._sweeper: asyncio.Task[None] | None = None
        self.sio.on("connect", self._on_connect)
        self.sio.on("disconnect", self._on_disconnect)
        self.sio.on("*", self._on_other)

    @property
    def grace(self) -> timedelta:
        return timedelta(seconds=self.settings.offline_grace_s)

    def connected_devices(self) -> set[int]:
        return set(self.socket_of_device)

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
            principal.device.last_seen = self.clock()
            previous = self.socket_of_device.get(device_id)
            self.members[sid] = Member(device_id, user.id, user.team_id)
            self.socket_of_device[device_id] = sid
            for room in rooms_for(user):
                await self.sio.enter_room(sid, room)
            events = await presence.refresh(session, [user.id], self.connected_devices(), self.clock(),
                                            self.grace)
            await session.commit()
        if previous is not None and previous != sid:
            await self.sio.disconnect(previous)
        await self.emit_presence(events)

    async def _on_disconnect(self, sid: str, _reason: Any = None) -> None:
        member = self.members.pop(sid, None)
        if member is None:
            return
        if self.socket_of_device.get(member.device_id) == sid:
            del self.socket_of_device[member.device_id]
            async with self.sessions() as session:
                await session.execute(update(Device).where(Device.id == member.device_id)
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

    async def disconnect_device(self, device_id: int) -> None:
        sid = self.socket_of_device.get(device_id)
        if sid is not None:
            await self.sio.disconnect(sid)

    # --- sweeping ----------------------------------------------------------------------------------------

    async def sweep(self) -> None:
        """One pass: refresh last_seen, drop revoked devices' sockets, announce users gone offline."""
        now = self.clock()
        connected = self.connected_devices()
        async with self.sessions() as session:
            if connected:
                await session.execute(update(Device).where(Device.id.in_(connected)).values(last_seen=now))
                revoked = list(await session.scalars(select(Device.id).where(
                    Device.id.in_(connected), Device.revoked_at.is_not(None))))
            else:
                revoked = []
            shown = list(await session.scalars(select(UserPresence.user_id).where(
                UserPresence.state != PresenceState.OFFLINE)))
            events = await presence.refresh(session, shown, connected - set(revoked), now, self.grace)
            await session.commit()
        for device_id in revoked:
            await self.disconnect_device(device_id)
        await self.emit_presence(events)

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.sweep_interval_s)
            try:
                await self.sweep()
            except Exception:  # a failed pass (database busy, say) must not end sweeping for good
                log.exception("presence sweep failed")

    def start(self) -> None:
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="presence-sweeper")

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
