"""The live side: python-socketio at ``/api/socket``, rooms derived from the token, presence sweeps.

A client authenticates in the handshake (``auth={"token": …}``) and is put in its rooms by the server:
``user:{id}``, ``team:{id}`` and, for managers and admins, ``managers:{id}``. Clients cannot name rooms; no
event a client emits reaches a handler (the seed's ``join-user``/``join-team`` and socket.io's reserved names
included), and what a client may cost is bounded by ``server.socket_guard``.

One socket per device: a device that connects again replaces its older socket, so reconnect storms never
pile up sessions. One background task writes presence: it flushes what connects and disconnects noted (last
seen, users to refresh) in one transaction per pass, so a reconnect storm costs a few transactions rather than
one per socket; and every sweep interval it marks users offline after the grace period, refreshes
``last_seen`` of connected devices, and disconnects sockets whose device was revoked by another process (the
admin CLI). A user may hold ``max_sockets_per_user`` sockets on one process; more are refused.

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
from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from protocol.refusals import ConnectRefusal
from protocol.schema import PerformanceEvent, PresenceAck, PresenceEvent, PresenceState, Role, Totals
from server import presence
from server.auth import Authenticator
from server.config import Settings
from server.errors import ApiError
from server.models import Device, User, UserPresence
from server.registry import Claim, Registry
from server.rooms import IndexedRedisManager, IndexedRooms
from server.socket_guard import GuardedServer
from server.totals import day_totals

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


def rooms_for(user: User) -> list[str]:
    rooms = [f"user:{user.id}", f"team:{user.team_id}"]
    if user.role in (Role.MANAGER, Role.ADMIN):
        rooms.append(f"managers:{user.team_id}")
    return rooms


Reports = list[tuple[presence.Reported, asyncio.Future[PresenceAck]]]


def _answer(reports: Reports, answers: list[tuple[bool, presence.Reported]]) -> None:
    """Each waiting presence PUT gets its answer (one whose client left is skipped)."""
    for (_, waiting), (applied, row) in zip(reports, answers, strict=True):
        if not waiting.done():
            waiting.set_result(PresenceAck(applied=applied, state=PresenceState(row.state), since=row.since))


def _fail(reports: Reports, exc: Exception) -> None:
    """A failed pass stored none of its reports: each waiting PUT answers the error (the client retries)."""
    for _, waiting in reports:
        if not waiting.done():
            waiting.set_exception(exc)


def shed_environ(environ: dict[str, Any]) -> None:
    """Empty a socket's handshake ``environ`` but for its ASGI entries, in place.

    python-socketio keeps the environ of each socket's handshake for the socket's life (for ``get_environ``,
    which nothing here calls), and engine.io's request handler holds the same dict as long: every request
    header as a WSGI string and the handshake's first ASGI message, about 4 KiB per idle socket (RSS at 1,000
    sockets: 46.5 -> 42.3 KiB each). engine.io answers the end of a websocket through ``asgi.scope`` and
    ``asgi.send``, so the ``asgi.*`` entries stay.
    """
    for key in [key for key in environ if not key.startswith("asgi.")]:
        del environ[key]


class LiveHub:
    def __init__(self, settings: Settings, sessions: async_sessionmaker[AsyncSession],
                 clock: Callable[[], datetime], registry: Registry) -> None:
        self.settings, self.sessions, self.clock, self.registry = settings, sessions, clock, registry
        #: Token look-ups, batched: REST requests and handshakes share them.
        self.auth = Authenticator(sessions)
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
        #: Noted for the next flush: users whose shown presence may have changed, devices' last-seen moments.
        self._dirty: set[int] = set()
        self._seen: dict[int, datetime] = {}
        #: (user id, local day) whose new totals to announce → (team id, time zone)
        self._days: dict[tuple[int, date], tuple[int, str]] = {}
        self._wake = asyncio.Event()
        #: Presence PUTs waiting for the next pass to store and announce them.
        self._reports: Reports = []
        self._worker: asyncio.Task[None] | None = None
        self.sio.on("connect", self._on_connect)
        self.sio.on("disconnect", self._on_disconnect)

    @property
    def grace(self) -> timedelta:
        return timedelta(seconds=self.settings.offline_grace_s)

    async def connected(self, device_ids: Collection[int]) -> dict[int, datetime]:
        """Those of ``device_ids`` with a socket on any server process, and since when."""
        return await self.registry.connected(device_ids)

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
        user, device_id = principal.user, principal.device.id
        self._check_cap(user.id, device_id)
        now = self.clock()
        member = Member(Claim(device_id, sid, now), user.id, user.team_id)
        self._remember(sid, member)
        try:
            previous = await self.registry.claim(member.claim)
            for room in rooms_for(user):
                await self.sio.enter_room(sid, room)
        except BaseException:  # a failed connection gets no disconnect: leave nothing of it behind
            self._forget(sid)
            await self.registry.release(member.claim)
            raise
        if previous is not None and previous != sid:
            await self.sio.disconnect(previous)  # on another process, the Redis manager passes it on
        self._note(device_id, now)
        self._note_user(user.id)

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
            self._note(member.claim.device_id, self.clock())

    # --- emitting ----------------------------------------------------------------------------------------

    async def emit_presence(self, events: Iterable[tuple[int, PresenceEvent]]) -> None:
        for team_id, event in events:
            await self.sio.emit("presence", event.model_dump(mode="json"), room=f"team:{team_id}")

    async def emit_performance(self, user_id: int, team_id: int, day: date, totals: Totals) -> None:
        payload = PerformanceEvent(user_id=user_id, date=day, totals=totals).model_dump(mode="json")
        await self.sio.emit("performance-update", payload, room=f"user:{user_id}")
        await self.sio.emit("team-performance-update", payload, room=f"managers:{team_id}")

    # --- writing presence, coalesced ---------------------------------------------------------------------

    def _note(self, device_id: int, seen: datetime) -> None:
        """Remember that a device was seen, for the next flush.

        Connects and disconnects write nothing themselves: the flusher writes every change noted since its
        last pass in one transaction, so a reconnect storm of thousands of agents costs a few transactions,
        not one each, and the team still hears of each change once, after it is committed."""
        self._seen[device_id] = max(seen, self._seen.get(device_id, seen))
        self._wake.set()

    def _note_user(self, user_id: int) -> None:
        """Remember that this user's presence may have changed, for the next flush (as ``_note``)."""
        self._dirty.add(user_id)
        self._wake.set()

    def seen(self, device_id: int, moment: datetime) -> None:
        """A device made a REST request: its ``last_seen`` is written with the next flush."""
        self._note(device_id, moment)

    def report(self, user_id: int, reported: presence.Reported) -> asyncio.Future[PresenceAck]:
        """A device of this user reported a state (a presence PUT): the next pass stores it with every report
        since the last pass, in two statements, refreshes and announces the users' presence. The future gets
        the answer once the team has been told, or the pass's error (the PUT then answers it; nothing of it is
        stored)."""
        answer: asyncio.Future[PresenceAck] = asyncio.get_running_loop().create_future()
        self._reports.append((reported, answer))
        self._note_user(user_id)
        return answer

    def totals_changed(self, user: User, days: Iterable[date]) -> None:
        """Minutes of these local days of ``user`` were stored: announce the days' totals with the next flush.

        Computing them in the upload's own request would cost it a query; here one query per pass serves every
        upload since the last one, and a user uploading twice meanwhile is announced once."""
        for day in days:
            self._days[(user.id, day)] = (user.team_id, user.time_zone)
        if self._days:
            self._wake.set()

    def _take(self) -> tuple[set[int], dict[int, datetime], dict[tuple[int, date], tuple[int, str]], Reports]:
        """Everything noted since the last pass, for this one."""
        users, seen, days, reports = self._dirty, self._seen, self._days, self._reports
        self._dirty, self._seen, self._days, self._reports = set(), {}, {}, []
        return users, seen, days, reports

    def _failed(self, exc: BaseException, users: set[int], seen: dict[int, datetime],
                days: dict[tuple[int, date], tuple[int, str]], reports: Reports) -> None:
        """A failed pass: keep what it noted for the next one. Its presence PUTs answer the error at once, as
        their clients would rather retry than wait; a pass cancelled by ``stop`` leaves them to its last flush."""
        self._dirty |= users
        self._days = days | self._days
        for device_id, moment in seen.items():
            self._seen[device_id] = max(moment, self._seen.get(device_id, moment))
        if isinstance(exc, Exception):
            _fail(reports, exc)
        else:
            self._reports = reports + self._reports

    async def flush(self) -> None:
        """Write the noted last-seen moments and reported states, store the noted users' presence, announce what
        changed and the noted days' totals."""
        users, seen, days, reports = self._take()
        if not users and not seen and not days:
            return
        try:
            async with self.sessions() as session:
                await presence.store_last_seen(session, seen)
                answers = await presence.store_reports(session, [reported for reported, _ in reports])
                events = await presence.refresh(session, users, self.connected, self.clock(), self.grace)
                totals = await day_totals(session, days)
                await session.commit()
        except BaseException as exc:
            self._failed(exc, users, seen, days, reports)
            raise
        await self.emit_presence(events)
        _answer(reports, answers)
        await self._emit_totals(days, totals)

    async def _emit_totals(self, days: dict[tuple[int, date], tuple[int, str]],
                           totals: dict[tuple[int, date], Totals]) -> None:
        for (user_id, day), sums in totals.items():
            await self.emit_performance(user_id, days[(user_id, day)][0], day, sums)

    async def sweep(self) -> None:
        """One pass: renew this process's leases and last_seen, close replaced and revoked sockets, announce
        users gone offline (and anything noted since the last flush)."""
        now = self.clock()
        replaced = await self.registry.renew([m.claim for m in reversed(self.members.values())])  # newest first
        local = {m.claim.device_id for sid, m in self.members.items() if sid not in replaced}
        users, seen, days, reports = self._take()
        try:
            async with self.sessions() as session:
                await presence.store_last_seen(session, {d: t for d, t in seen.items() if d not in local})
                answers = await presence.store_reports(session, [reported for reported, _ in reports])
                if local:
                    await session.execute(update(Device).where(Device.id.in_(local)).values(last_seen=now))
                    revoked = set(await session.scalars(select(Device.id).where(
                        Device.id.in_(local), Device.revoked_at.is_not(None))))
                else:
                    revoked = set()
                revoked_users = {m.user_id for m in self.members.values() if m.claim.device_id in revoked}
                expiring = set(await session.scalars(self._expiring(now)))
                events = await presence.refresh(session, users | revoked_users | expiring, self.connected, now,
                                                self.grace)
                totals = await day_totals(session, days)
                await session.commit()
        except BaseException as exc:
            self._failed(exc, users, seen, days, reports)
            raise
        for sid, member in list(self.members.items()):
            if sid in replaced or member.claim.device_id in revoked:
                await self.sio.disconnect(sid)
        await self.emit_presence(events)
        _answer(reports, answers)
        await self._emit_totals(days, totals)

    def _expiring(self, now: datetime) -> Select[Any]:
        """Users shown present with a device not seen lately: the only ones whose presence can change by time
        passing alone (a grace period running out, a crashed process's devices). Every process's sweep renews
        the last_seen of the devices connected to it each interval, so a connected device is never among
        them, and a sweep at 5,000 sockets refreshes the few users that can change, not all 5,000."""
        stale = now - min(self.grace, timedelta(seconds=2 * self.settings.sweep_interval_s))
        return (select(Device.user_id).distinct().join(UserPresence, UserPresence.user_id == Device.user_id)
                .where(UserPresence.state != PresenceState.OFFLINE, Device.last_seen < stale))

    async def _work_forever(self) -> None:
        """Flush whenever something was noted (a flush in progress gathers the next batch), sweep on a timer."""
        loop = asyncio.get_running_loop()
        next_sweep = loop.time() + self.settings.sweep_interval_s
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(0.0, next_sweep - loop.time()))
            self._wake.clear()
            sweeping = loop.time() >= next_sweep
            try:
                if sweeping:
                    await self.sweep()
                else:
                    await self.flush()
            except Exception:  # a failed pass (database busy, say) must not end the work for good
                log.exception("presence %s failed", "sweep" if sweeping else "flush")
                await asyncio.sleep(min(1.0, self.settings.sweep_interval_s))
            if sweeping:
                next_sweep = loop.time() + self.settings.sweep_interval_s

    def start(self) -> None:
        if self.settings.redis_url and not self.sio.manager_initialized:
            # Subscribe to the other processes' events now rather than at the first connection, so an event
            # emitted elsewhere just after a client connects here is not missed.
            self.sio.manager_initialized = True
            self.sio.manager.initialize()
        self._worker = asyncio.create_task(self._work_forever(), name="presence-writer")

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        with contextlib.suppress(Exception):  # last-seen moments of the sockets closed on the way out
            await self.flush()
        await self.registry.close()
