"""What the next presence pass writes: noted by sockets, REST requests and presence PUTs, taken by the writer.

Connects, disconnects and requests write nothing themselves: they note a device's last-seen moment, a user
whose shown presence may have changed, a local day whose totals changed, or a reported state, and wake the
presence writer (``server.presence_writer``), whose next pass writes everything noted since its last one in
one transaction. A reconnect storm of thousands of agents thus costs a few transactions, not one each, and the
team hears of each change once, after it is committed.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterable
from datetime import date, datetime

from protocol.schema import PresenceAck
from server.coalesce import Coalescer, Pass
from server.models import User
from server.presence import Reported

#: (user id, local day) whose new totals to announce → (team id, the user's time zone)
Days = dict[tuple[int, date], tuple[int, str]]


@dataclasses.dataclass(frozen=True)
class Taken:
    """Everything noted for one pass."""

    users: set[int]
    seen: dict[int, datetime]
    days: Days
    reports: Pass[Reported, PresenceAck]

    def __bool__(self) -> bool:
        return bool(self.users or self.seen or self.days or self.reports)


class Pending:
    """The notes waiting for the next pass, and the event that wakes the writer for them."""

    def __init__(self) -> None:
        self.wake = asyncio.Event()
        self._users: set[int] = set()
        self._seen: dict[int, datetime] = {}
        self._days: Days = {}
        #: Presence PUTs, answered by the pass that stores them.
        self._reports: Coalescer[Reported, PresenceAck] = Coalescer()

    def seen(self, device_id: int, moment: datetime) -> None:
        """The device was seen (connected, disconnected, made a request): its ``last_seen``, the latest kept."""
        self._seen[device_id] = max(moment, self._seen.get(device_id, moment))
        self.wake.set()

    def user(self, user_id: int) -> None:
        """The user's shown presence may have changed: refresh it."""
        self._users.add(user_id)
        self.wake.set()

    def days(self, user: User, days: Iterable[date]) -> None:
        """Minutes of these local days of ``user`` were stored: announce the days' totals (once per pass,
        however many uploads)."""
        for day in days:
            self._days[(user.id, day)] = (user.team_id, user.time_zone)
        if self._days:
            self.wake.set()

    def report(self, user_id: int, reported: Reported) -> asyncio.Future[PresenceAck]:
        """A device of this user reported a state; the future gets the pass's answer, or its error."""
        answer = self._reports.add(reported)
        self.user(user_id)
        return answer

    def take(self) -> Taken:
        """Everything noted since the last pass, for this one."""
        taken = Taken(self._users, self._seen, self._days, self._reports.take())
        self._users, self._seen, self._days = set(), {}, {}
        return taken

    def put_back(self, taken: Taken, exc: BaseException) -> None:
        """A failed pass: keep what it took for the next one, and wake the writer for it (nothing else may be
        noted for a while). Its presence PUTs answer the error at once, as their clients would rather retry
        than wait; a pass cancelled (by ``stop``) leaves them to the last one."""
        self._users |= taken.users
        self._days = taken.days | self._days
        for device_id, moment in taken.seen.items():
            self._seen[device_id] = max(moment, self._seen.get(device_id, moment))
        if isinstance(exc, Exception):
            taken.reports.fail(exc)
        else:
            taken.reports.put_back()
        if taken:
            self.wake.set()
