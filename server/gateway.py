"""The socket side: python-socketio at ``/api/socket``, who may connect, the rooms they join, what they hear.

A client authenticates in the handshake (``auth={"token": …}``) and is put in its rooms by the server:
``user:{id}``, ``team:{id}`` and, for managers and admins, ``managers:{id}``. Clients cannot name rooms; no
event a client emits reaches a handler (the seed's ``join-user``/``join-team`` and socket.io's reserved names
included), and what a client may cost is bounded by ``server.socket_guard``.

One socket per device: a device that connects again replaces its older socket, so reconnect storms never
pile up sessions. A user may hold ``max_sockets_per_user`` sockets on one process; more are refused, each
refusal with a code (``protocol.refusals``). Connects and disconnects write nothing: they note the device and
its user for the presence writer's next pass (``server.pending``).

With ``redis_url`` set, python-socketio's Redis manager carries every emit (and the disconnect of a replaced
socket) to all processes.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Any

import socketio

from protocol.refusals import ConnectRefusal
from protocol.schema import PerformanceEvent, PresenceEvent, Role, Totals
from server.auth import Authenticator
from server.config import Settings
from server.errors import ApiError, database_error, database_unavailable
from server.pending import Pending
from server.registry import Claim, Registry
from server.rooms import IndexedRedisManager, IndexedRooms
from server.socket_guard import GuardedServer
from server.throttled_log import ThrottledLog

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


def refusal(code: str, message: str) -> socketio.exceptions.ConnectionRefusedError:
    """A refused connect: the client's ``connect_error`` gets ``{"message": …, "data": {"code": …}}``, as the
    official client expects, with one of the codes docs/protocol.md lists (``missing_token``, ``unknown_token``,
    ``revoked``, ``too_many_sockets``; other refusals of the authenticator pass their REST code on)."""
    return socketio.exceptions.ConnectionRefusedError(message, {"code": code})


def rooms_for(user_id: int, team_id: int, role: str) -> list[str]:
    """The rooms a user's sockets join at connect; ``server.announce`` regroups sockets whose rooms stop fitting."""
    rooms = [f"user:{user_id}", f"team:{team_id}"]
    if role in (Role.MANAGER, Role.ADMIN):
        rooms.append(f"managers:{team_id}")
    return rooms


def shed_environ(environ: dict[str, Any]) -> None:
    """Empty a socket's handshake ``environ`` but for its ASGI entries, in place.

    python-socketio keeps the environ of each socket's handshake for the socket's life (for ``get_environ``,
    which nothing here calls), and engine.io's request handler holds the same dict as long: every request
    header as a WSGI string and the handshake's first ASGI message, about 4 KiB per idle socket (RSS at 1,000
    sockets: 46.5 -> 42.3 KiB each). engine.io answers the end of a websocket through ``asgi.scope`` and
    ``asgi.send``, so the ``asgi.*`` entries stay. tests/server/test_third_party_internals.py fails if either
    library stops sharing that one dict, or needs more of it.
    """
    for key in [key for key in environ if not key.startswith("asgi.")]:
        del environ[key]


class SocketGateway:
    """This process's sockets: connects (authenticated, capped, put in rooms), disconnects, and emits."""

    def __init__(self, settings: Settings, auth: Authenticator, registry: Registry, pending: Pending,
                 clock: Callable[[], datetime]) -> None:
        self.settings, self.auth, self.registry, self.pending, self.clock = settings, auth, registry, pending, clock
        manager = (IndexedRedisManager(settings.redis_url, channel=REDIS_CHANNEL) if settings.redis_url
                   else IndexedRooms())
        self.sio = GuardedServer(
            async_mode="asgi", client_manager=manager, ping_interval=settings.ping_interval_s,
            ping_timeout=settings.ping_timeout_s, max_http_buffer_size=settings.max_socket_message_bytes,
            connect_timeout_s=settings.socket_connect_timeout_s, packet_burst=settings.socket_packet_burst,
            packet_rate_per_s=settings.socket_packet_rate_per_s, allowed_origins=settings.allowed_origins,
        )
        #: This process's sockets; the registry knows every process's.
        self.members: dict[str, Member] = {}
        #: user id → {sid: device id}, this process's sockets again, by user: for the per-user cap.
        self._sockets_of: dict[int, dict[str, int]] = {}
        #: A database outage or a reconnect storm repeats these for every socket: a line a minute at most.
        self._database_log = ThrottledLog(log, 60.0)
        self._replace_log = ThrottledLog(log, 60.0)
        self.sio.on("connect", self._on_connect)
        self.sio.on("disconnect", self._on_disconnect)

    def start(self) -> None:
        """With Redis, subscribe to the other processes' events now rather than at the first connection, so an
        event emitted elsewhere just after a client connects here is not missed.

        python-socketio has no public call for it: this is what its ``_handle_eio_connect`` does at the first
        connection, flag included so it is not done twice (pinned in tests/server/test_third_party_internals.py).
        """
        if self.settings.redis_url and not self.sio.manager_initialized:
            self.sio.manager_initialized = True
            self.sio.manager.initialize()

    # --- socket handlers ---------------------------------------------------------------------------------

    async def _on_connect(self, sid: str, environ: dict[str, Any], auth: Any) -> None:
        shed_environ(environ)
        token = auth.get("token") if isinstance(auth, dict) else None
        if not isinstance(token, str) or not token:
            raise refusal(ConnectRefusal.MISSING_TOKEN, "missing token: connect with auth={'token': '<device token>'}")
        try:
            principal = await self.auth.principal(token)
        except ApiError as exc:
            code = ConnectRefusal.UNKNOWN_TOKEN if exc.code == "unauthorized" else exc.code
            raise refusal(code, exc.message) from None
        except Exception as exc:  # a database outage is refused with a code the agent retries on, as REST answers 503
            if not database_unavailable(exc):
                raise
            self._database_log.warning("database unavailable, socket connect refused: %s", database_error(exc))
            raise refusal(ConnectRefusal.UNAVAILABLE, "the server's database is busy or unreachable; retry shortly"
                          ) from None
        user, device_id = principal.user, principal.device.id
        self._check_cap(user.id, device_id)
        now = self.clock()
        member = Member(Claim(device_id, sid, now), user.id, user.team_id)
        self._remember(sid, member)
        try:
            previous = await self.registry.claim(member.claim)
            for room in rooms_for(user.id, user.team_id, user.role):
                await self.sio.enter_room(sid, room)
        except BaseException:  # a failed connection gets no disconnect: leave nothing of it behind
            self._forget(sid)
            await self.registry.release(member.claim)
            raise
        if previous is not None and previous != sid:
            try:
                await self.sio.disconnect(previous)  # on another process, the Redis manager passes it on
            except Exception as exc:  # the new socket is recorded and claimed: it must still connect
                # The old socket closing on its own at this moment (a reconnect storm). Were this raised, the new
                # socket would get no CONNECT answer and no disconnect, and its record and claim would stay forever.
                self._replace_log.warning("could not close a replaced socket (%s): %s", type(exc).__name__, exc)
        self.pending.seen(device_id, now)
        self.pending.user(user.id)

    def _check_cap(self, user_id: int, device_id: int) -> None:
        """Refuse a socket beyond ``max_sockets_per_user`` on this process. Counted as the user's other devices
        with a socket here: this device's own old socket is replaced, not added. Per process, like the write
        budget: counting across processes would add a Redis round trip to every connect."""
        cap = self.settings.max_sockets_per_user
        others = {d for d in self._sockets_of.get(user_id, {}).values() if d != device_id}
        if len(others) >= cap:
            raise refusal(ConnectRefusal.TOO_MANY_SOCKETS,
                          f"too many sockets: this user already holds {cap}, the most allowed at once; close one first")

    def _remember(self, sid: str, member: Member) -> None:
        self.members[sid] = member
        self._sockets_of.setdefault(member.user_id, {})[sid] = member.claim.device_id

    def _forget(self, sid: str) -> Member | None:
        member = self.members.pop(sid, None)
        if member is not None:
            mine = self._sockets_of[member.user_id]
            del mine[sid]
            if not mine:
                del self._sockets_of[member.user_id]
        return member

    async def _on_disconnect(self, sid: str, _reason: Any = None) -> None:
        member = self._forget(sid)
        if member is not None and await self.registry.release(member.claim):
            self.pending.seen(member.claim.device_id, self.clock())

    async def disconnect(self, sid: str) -> None:
        await self.sio.disconnect(sid)

    # --- emitting ----------------------------------------------------------------------------------------

    async def emit_presence(self, events: Iterable[tuple[int, PresenceEvent]]) -> None:
        for team_id, event in events:
            await self.sio.emit("presence", event.model_dump(mode="json"), room=f"team:{team_id}")

    async def emit_performance(self, user_id: int, team_id: int, day: date, totals: Totals) -> None:
        payload = PerformanceEvent(user_id=user_id, date=day, totals=totals).model_dump(mode="json")
        await self.sio.emit("performance-update", payload, room=f"user:{user_id}")
        await self.sio.emit("team-performance-update", payload, room=f"managers:{team_id}")
