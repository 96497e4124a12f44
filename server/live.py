"""The live side, put together: token look-ups, the socket gateway and the presence writer over one registry.

``server.gateway`` holds the sockets (handshakes, caps, rooms, emits), ``server.presence_writer`` the one task
that writes presence, and ``server.pending`` what the first (and REST requests) note for the second. The hub
builds them for one process and is what routes and the app's lifespan see.

With ``redis_url`` set, several server processes act as one: python-socketio's Redis manager carries every
emit (and the disconnect of a replaced socket) to all processes, and the device registry lives in Redis
(see ``server.registry``). Without it, everything stays in this process's memory.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Iterable
from datetime import date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from protocol.schema import PresenceAck
from server import presence
from server.auth import Authenticator
from server.config import Settings
from server.gateway import Member, SocketGateway
from server.models import User
from server.pending import Pending
from server.presence_writer import PresenceWriter
from server.registry import Registry


class LiveHub:
    def __init__(self, settings: Settings, sessions: async_sessionmaker[AsyncSession],
                 clock: Callable[[], datetime], registry: Registry) -> None:
        self.registry = registry
        #: Token look-ups, batched: REST requests and handshakes share them.
        self.auth = Authenticator(sessions)
        self.pending = Pending()
        self.gateway = SocketGateway(settings, self.auth, registry, self.pending, clock)
        self.writer = PresenceWriter(settings, sessions, clock, registry, self.pending, self.gateway)
        self.sio = self.gateway.sio

    @property
    def members(self) -> dict[str, Member]:
        """This process's sockets."""
        return self.gateway.members

    @property
    def grace(self) -> timedelta:
        return self.writer.grace

    async def connected(self, device_ids: Collection[int]) -> dict[int, datetime]:
        """Those of ``device_ids`` with a socket on any server process, and since when."""
        return await self.writer.connected(device_ids)

    def seen(self, device_id: int, moment: datetime) -> None:
        """A device made a REST request: its ``last_seen`` is written with the next pass."""
        self.pending.seen(device_id, moment)

    def report(self, user_id: int, reported: presence.Reported) -> asyncio.Future[PresenceAck]:
        """A device of this user reported a state (a presence PUT): the next pass stores it with every report
        since the last pass, in two statements, refreshes and announces the users' presence. The future gets
        the answer as soon as the pass has committed it (before the team is told), or the pass's error (the
        PUT then answers it; nothing of it is stored)."""
        return self.pending.report(user_id, reported)

    def totals_changed(self, user: User, days: Iterable[date]) -> None:
        """Minutes of these local days of ``user`` were stored: announce the days' totals with the next pass.

        Computing them in the upload's own request would cost it a query; here one query per pass serves every
        upload since the last one, and a user uploading twice meanwhile is announced once."""
        self.pending.days(user, days)

    def start(self) -> None:
        self.gateway.start()
        self.writer.start()

    async def stop(self) -> None:
        await self.writer.stop()
        await self.registry.close()
