"""Summing the days that new minutes changed, off the request path, so the history ranges find them fresh.

Ingest marks every day a batch added minutes to as stale (``server.days.touch`` bumps its ``version``). Without
this, the first history read after an upload sums those days from the minutes while the manager waits: a
manager's current week holds today, which every upload of every member makes stale (docs/server.md, "History").
So every server process runs ``DaySummariser``: at start and then every ``summary_interval_s`` it sums the rows
whose ``summarised`` differs from their ``version``, ``CHUNK_DAYS`` per transaction, resting between chunks as
the retention pass does, until none is left. Readers serve a stale row summed at most ``summary_max_age_s`` ago
(``server.days.usable``), so a day of the history lags its minutes by at most that bound, normally by one
interval.

Two processes on one database (a cluster) may sum the same row at once: ``server.days.refresh`` writes only
where the version is still the one it read and the row is not fresh yet, and it writes sums read from the
minutes, never increments, so neither counts a minute twice. Days before the retention window's first kept day
are left alone: their minutes may be gone (the retention pass folds them, or deletes their row).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.config import Settings
from server.days import summarise_days
from server.errors import UNAVAILABLE
from server.models import User, UserDay
from server.retention import MIN_REST_S, cutoff, first_kept_day

log = logging.getLogger(__name__)

#: Days summed in one transaction at most: a team's day (50 members) in one, about a team day's cost.
CHUNK_DAYS = 50


class DaySummariser:
    def __init__(self, settings: Settings, sessions: async_sessionmaker[AsyncSession],
                 clock: Callable[[], datetime]) -> None:
        self.settings, self.sessions, self.clock = settings, sessions, clock
        self._task: asyncio.Task[None] | None = None

    async def run(self) -> int:
        """Sum the days of the retention window that were stale when the pass began, chunk by chunk; how many
        rows this process wrote. A day an upload makes stale again meanwhile waits for the next pass."""
        now = self.clock()
        # A day wholly before the cutoff's UTC date is before every zone's first kept day.
        oldest = cutoff(now, self.settings).date() - timedelta(days=1)
        async with self.sessions() as session:
            stale = (await session.execute(
                select(UserDay.user_id, UserDay.day, User.time_zone).join(User, User.id == UserDay.user_id)
                .where(or_(UserDay.summarised.is_(None), UserDay.summarised != UserDay.version),
                       UserDay.day >= oldest)
                .order_by(UserDay.day.desc(), UserDay.user_id))).all()
        keys = [(uid, day) for uid, day, zone in stale if day >= first_kept_day(now, zone, self.settings)]
        written = 0
        for at in range(0, len(keys), CHUNK_DAYS):
            started = time.monotonic()
            async with self.sessions() as session:
                written += await summarise_days(session, keys[at:at + CHUNK_DAYS], now=self.clock(), empty=True)
                await session.commit()
            await asyncio.sleep(max(time.monotonic() - started, MIN_REST_S))
        return written

    async def _run(self) -> None:
        while True:
            try:
                written = await self.run()
                if written:
                    log.debug("summed %d days", written)
            except UNAVAILABLE as exc:  # a busy database: the next pass sums what is left
                log.warning("day summary pass failed, the next one retries: %s", exc)
            except Exception:  # a bug in one pass must not end the summaries for the life of the process
                log.exception("day summary pass failed")
            await asyncio.sleep(self.settings.summary_interval_s)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="day summaries")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
