"""The one background task that writes presence: a pass whenever something was noted, a sweep on a timer.

A pass (``flush``) takes everything noted since the last one (``server.pending``: last-seen moments, users to
refresh, presence PUTs, days whose totals changed), writes it in one transaction, answers each PUT with what was
committed, then tells the team: the presence that changed, the days' new totals. Nobody hears of a state the
database does not hold. A failed pass keeps what it took for the next one and wakes the writer for it (its PUTs
answer the error: their clients retry). An announcement that fails once the pass is committed is logged and
the others still go out; it holds back no answer.

A sweep (every ``sweep_interval_s``) is a pass that also renews this process's device leases and their
``last_seen``, refreshes the users whose presence can change by time passing alone (a grace period running out,
a crashed process's devices), and afterwards closes the sockets replaced on another process or whose device was
revoked by another process (the admin CLI).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from protocol.schema import PresenceAck, PresenceState
from server import presence
from server.config import Settings
from server.gateway import SocketGateway
from server.models import Device, UserPresence
from server.pending import Pending
from server.registry import Registry
from server.throttled_log import ThrottledLog
from server.totals import day_totals

log = logging.getLogger(__name__)


@dataclasses.dataclass
class _Renewal:
    """What a sweep adds to a pass: this process's connected devices, and the sockets to close after it."""

    local: set[int]
    replaced: set[str]
    revoked: set[int] = dataclasses.field(default_factory=set)


class PresenceWriter:
    def __init__(self, settings: Settings, sessions: async_sessionmaker[AsyncSession], clock: Callable[[], datetime],
                 registry: Registry, pending: Pending, sockets: SocketGateway) -> None:
        self.settings, self.sessions, self.clock, self.registry = settings, sessions, clock, registry
        self.pending, self.sockets = pending, sockets
        #: Emits that failed after their pass was committed: an outage fails every one of them.
        self._emit_failures = ThrottledLog(log, every_s=60)
        self._worker: asyncio.Task[None] | None = None

    @property
    def grace(self) -> timedelta:
        return timedelta(seconds=self.settings.offline_grace_s)

    async def connected(self, device_ids: Collection[int]) -> dict[int, datetime]:
        """Those of ``device_ids`` with a socket on any server process, and since when."""
        return await self.registry.connected(device_ids)

    async def flush(self) -> None:
        """Write what was noted, store the noted users' presence, announce what changed and the days' totals."""
        await self._pass(self.clock())

    async def sweep(self) -> None:
        """A pass that also renews this process's leases and last_seen, closes replaced and revoked sockets and
        announces users gone offline."""
        now = self.clock()
        members = self.sockets.members
        replaced = await self.registry.renew([m.claim for m in reversed(members.values())])  # newest first
        local = {m.claim.device_id for sid, m in members.items() if sid not in replaced}
        await self._pass(now, _Renewal(local, replaced))

    async def _pass(self, now: datetime, renewal: _Renewal | None = None) -> None:
        taken = self.pending.take()
        if not taken and renewal is None:
            return
        seen = taken.seen if renewal is None else {d: t for d, t in taken.seen.items() if d not in renewal.local}
        try:
            async with self.sessions() as session:
                await presence.store_last_seen(session, seen)
                answers = await presence.store_reports(session, taken.reports.items)
                users = taken.users if renewal is None else taken.users | await self._renew(session, now, renewal)
                events = await presence.refresh(session, users, self.connected, now, self.grace)
                totals = await day_totals(session, taken.days)
                await session.commit()
        except BaseException as exc:  # whatever ends the pass, nothing it took is lost: put back or answered
            self.pending.put_back(taken, exc)
            raise
        # What is committed is the answer: the PUTs hear it now, whatever becomes of the announcements.
        taken.reports.answer([PresenceAck(applied=applied, state=PresenceState(row.state), since=row.since)
                              for applied, row in answers])
        if renewal is not None:
            for sid, member in list(self.sockets.members.items()):
                if sid in renewal.replaced or member.claim.device_id in renewal.revoked:
                    await self._told("closing a socket", self.sockets.disconnect(sid))
        for event in events:
            await self._told("announcing presence", self.sockets.emit_presence([event]))
        for (user_id, day), sums in totals.items():
            await self._told("announcing totals",
                             self.sockets.emit_performance(user_id, taken.days[(user_id, day)][0], day, sums))

    async def _told(self, what: str, emit: Awaitable[None]) -> None:
        """Await one emit (or disconnect) of a committed pass. One that raises (the socket.io manager failing)
        is logged, at most once a minute with a count of the rest, and the others are still made: the pass
        stays done and answered, and the team hears the user's next change."""
        try:
            await emit
        except Exception as exc:  # broad: whatever the manager raised, the pass is committed and answered
            self._emit_failures.warning("presence writer: %s failed: %s: %s", what, type(exc).__name__, exc)

    async def _renew(self, session: AsyncSession, now: datetime, renewal: _Renewal) -> set[int]:
        """A sweep's writes: the connected devices' last_seen; which of them were revoked (noted in
        ``renewal``); the users to refresh for them and for time passing."""
        if renewal.local:
            await session.execute(update(Device).where(Device.id.in_(renewal.local)).values(last_seen=now))
            renewal.revoked = set(await session.scalars(select(Device.id).where(
                Device.id.in_(renewal.local), Device.revoked_at.is_not(None))))
        revoked_users = {m.user_id for m in self.sockets.members.values() if m.claim.device_id in renewal.revoked}
        return revoked_users | set(await session.scalars(self._expiring(now)))

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
        wake = self.pending.wake
        next_sweep = loop.time() + self.settings.sweep_interval_s
        while True:
            # ``asyncio.timeout``, not ``wait_for``: on Python 3.11 ``wait_for`` returns a wake-up that lands in
            # the same loop step as a cancellation and drops the cancellation (CPython gh-86296). At shutdown the
            # closing sockets' notes wake the writer just as ``stop`` cancels it: the writer swept on, ``stop``
            # never returned and the server never exited.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout_at(next_sweep):
                    await wake.wait()
            wake.clear()
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
        self._worker = asyncio.create_task(self._work_forever(), name="presence-writer")

    async def stop(self) -> None:
        """End the work; one last pass writes the last-seen moments of the sockets closed on the way out."""
        if self._worker is not None:
            self._worker.cancel()
            # ``wait``, not ``await`` under ``suppress(CancelledError)``: that would also swallow a cancellation
            # of ``stop`` itself (a shutdown given up on), and the caller would go on as if stopped.
            await asyncio.wait([self._worker])
        try:
            await self.flush()
        except Exception:  # broad: shutting down anyway; its PUTs got the error, the log says what it was
            log.exception("presence writer: the last flush failed")
