"""Deleting what is past the retention window: monitoring data must not outlive its purpose.

Every server process runs a pass at start and then every ``retention_interval_s`` (``RetentionSweeper``). A pass
at ``now`` takes the cutoff ``now - retention_days`` (``cutoff``: the window ingest refuses older minutes by) and
deletes:

- minutes (``activity_slots``) that begin before the cutoff; one that begins exactly at it stays, as ingest
  accepts it. For a team that keeps day totals (``Team.keep_day_totals``) a minute goes only once its whole
  local day, in the member's zone, began before the cutoff's local day and is folded into a ``UserDay`` row
  (``server.days``): the minutes of the day the cutoff falls in wait for a later pass, up to a day longer.
- day totals (``user_days``) of days before the cutoff's local day, for members of a team that keeps none (a
  team that stopped keeping them, or the history ranges' sums of recent days, ``server.days``), and the cutoff's
  own day's once some of its minutes went (a reader sums what is left again);
- batch ids (``batches``) received before the cutoff: a retry of such a batch holds minutes ingest refuses;
- enrollment codes that expired before the cutoff, used or not: they can enroll nothing;
- roster changes (``roster_changes``: a member's name and role, for the ``roster`` event) announced more than
  ``ROSTER_KEPT`` (a day) before ``now``, whatever the window: a row is needed only until every process's
  announce pass has told the team's sockets and regrouped its own (``server.announce``), one sweep interval, and
  a name should not stay in a second table longer than that. Rows not yet announced wait for a server to do so.

Presence (``device_presence``, ``user_presence``) is one row per device and per user, overwritten by each
report: there is no history of it to delete.

Each delete runs in chunks of ``retention_chunk_rows`` rows, one transaction each, and after each chunk the pass
rests as long as the chunk took: a large backlog (a first pass over a year of minutes) never holds SQLite's one
write lock for long, and uploads go in between. Deletes are idempotent: two processes on one database (a
cluster) running a pass at once delete each row once between them, and each counts only what it deleted.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute

from protocol.schema import Retention
from server.config import Settings
from server.days import summarise_days
from server.errors import UNAVAILABLE
from server.models import ActivitySlot, Batch, EnrollmentCode, RosterChange, Team, User, UserDay
from server.totals import day_bounds, local_date

log = logging.getLogger(__name__)

#: Days of one member folded in one transaction at most.
FOLD_DAYS = 31
#: How long an announced roster change is kept: far beyond the sweep interval every announce pass runs at.
ROSTER_KEPT = timedelta(days=1)
#: The shortest rest between two chunks, so a chunk that took no time still lets waiting writers in.
MIN_REST_S = 0.005


def retention(team: Team, settings: Settings) -> Retention:
    """What the server keeps of ``team``'s activity, for the history answers."""
    return Retention(minutes_days=settings.retention_days, keeps_day_totals=team.keep_day_totals)


def cutoff(now: datetime, settings: Settings) -> datetime:
    """The start of the retention window at ``now``: minutes beginning before it are refused and deleted."""
    return now - timedelta(days=settings.retention_days)


def first_kept_day(now: datetime, time_zone: str, settings: Settings) -> date:
    """The earliest local day (in ``time_zone``) whose minutes are still kept at ``now``, some of them: the
    day the cutoff falls in. Days before it have no minutes left (or only a day total)."""
    return local_date(cutoff(now, settings), time_zone)


@dataclasses.dataclass
class Report:
    """What one pass deleted and folded, and how long its longest chunk held the database."""

    minutes: int = 0
    folded_days: int = 0
    day_totals: int = 0
    batches: int = 0
    codes: int = 0
    roster_changes: int = 0
    chunks: int = 0
    held_s: float = 0.0
    longest_chunk_s: float = 0.0

    def held(self, seconds: float) -> None:
        self.chunks += 1
        self.held_s += seconds
        self.longest_chunk_s = max(self.longest_chunk_s, seconds)

    def line(self, before: datetime, took_s: float) -> str:
        return (f"retention pass: deleted {self.minutes} minutes, {self.day_totals} day totals, {self.batches} "
                f"batch ids and {self.codes} enrollment codes from before {before:%Y-%m-%d %H:%M} UTC, "
                f"{self.roster_changes} announced roster changes; folded "
                f"{self.folded_days} days into day totals; {self.chunks} chunks, on average "
                f"{self.held_s / max(self.chunks, 1) * 1000:.0f} ms, the longest {self.longest_chunk_s * 1000:.0f} ms; "
                f"{took_s:.1f} s")


class RetentionSweeper:
    def __init__(self, settings: Settings, sessions: async_sessionmaker[AsyncSession],
                 clock: Callable[[], datetime]) -> None:
        self.settings, self.sessions, self.clock = settings, sessions, clock
        self._task: asyncio.Task[None] | None = None

    async def run(self) -> Report:
        """One pass at the clock's now, logged in one line."""
        now, started = self.clock(), time.monotonic()
        limit = cutoff(now, self.settings)
        report = Report()
        async with self.sessions() as session:
            users = (await session.execute(select(User.id, User.time_zone, Team.keep_day_totals)
                                           .join(Team, Team.id == User.team_id).order_by(User.id))).all()
        for user_id, zone, keeps in users:
            kept_day = first_kept_day(now, zone, self.settings)
            # Keeping: whole days before the cutoff's local midnight are folded, then their minutes go.
            before = day_bounds(kept_day, zone)[0] if keeps else limit
            if keeps:
                report.folded_days += await self._fold(report, user_id, zone, before)
            minutes = await self._delete(report, (ActivitySlot.device_id, ActivitySlot.start),
                                         ActivitySlot.user_id == user_id, ActivitySlot.start < before)
            report.minutes += minutes
            if not keeps:
                # Days before the cutoff's, and the cutoff's own once some of its minutes went: its row (the
                # history ranges' sum, ``server.days``) would still count them; a reader sums it again.
                last = kept_day if minutes else kept_day - timedelta(days=1)
                report.day_totals += await self._delete(report, (UserDay.user_id, UserDay.day),
                                                        UserDay.user_id == user_id, UserDay.day <= last)
        report.batches = await self._delete(report, (Batch.device_id, Batch.batch_id), Batch.received_at < limit)
        report.codes = await self._delete(report, (EnrollmentCode.id,), EnrollmentCode.expires_at < limit)
        report.roster_changes = await self._delete(report, (RosterChange.id,),
                                                   RosterChange.announced_at < now - ROSTER_KEPT)
        log.info("%s", report.line(limit, time.monotonic() - started))
        return report

    async def _fold(self, report: Report, user_id: int, zone: str, before: datetime) -> int:
        """Fold the member's days that end by ``before`` (a local midnight), hold minutes, and have no total yet."""
        async with self.sessions() as session:
            oldest = await session.scalar(select(func.min(ActivitySlot.start))
                                          .where(ActivitySlot.user_id == user_id, ActivitySlot.start < before))
            if oldest is None:
                return 0
            first, last = local_date(oldest, zone), local_date(before, zone) - timedelta(days=1)
            # A row that minutes arrived for since it was summed (``server.days.fresh``) is summed again.
            folded = set(await session.scalars(select(UserDay.day).where(
                UserDay.user_id == user_id, UserDay.day >= first, UserDay.day <= last,
                UserDay.summarised == UserDay.version)))
        days = [day for day in (first + timedelta(days=k) for k in range((last - first).days + 1))
                if day not in folded]
        written = 0
        for at in range(0, len(days), FOLD_DAYS):
            started = time.monotonic()
            async with self.sessions() as session:
                written += await summarise_days(session, [(user_id, day) for day in days[at:at + FOLD_DAYS]])
                await session.commit()
            await self._rest(report, time.monotonic() - started)
        return written

    async def _delete(self, report: Report, key: tuple[InstrumentedAttribute[Any], ...],
                      *where: ColumnElement[bool]) -> int:
        """Delete the rows matching ``where`` in chunks of at most ``retention_chunk_rows`` (picked by ``key``,
        the table's primary key), one transaction each; how many rows this process deleted."""
        table = key[0].class_
        chunk = self.settings.retention_chunk_rows
        deleted = 0
        while True:
            async with self.sessions() as session:
                # A read first: most passes find nothing, and on SQLite a DELETE takes the write lock even then.
                if await session.scalar(select(*key).where(*where).limit(1)) is None:
                    return deleted
                started = time.monotonic()
                result = await session.execute(delete(table).where(
                    tuple_(*key).in_(select(*key).where(*where).limit(chunk))))
                await session.commit()
            count: int = max(result.rowcount, 0)  # type: ignore[attr-defined]  # a CursorResult for a DELETE
            deleted += count
            await self._rest(report, time.monotonic() - started)
            if count < chunk:
                return deleted

    @staticmethod
    async def _rest(report: Report, held_s: float) -> None:
        """Note a chunk's time and rest as long, so writers waiting for the database get it in between."""
        report.held(held_s)
        await asyncio.sleep(max(held_s, MIN_REST_S))

    async def _run(self) -> None:
        while True:
            try:
                await self.run()
            except UNAVAILABLE as exc:  # a busy database: what is left goes with the next pass
                log.warning("retention pass failed, the next one retries: %s", exc)
            except Exception:  # a bug in one pass must not end retention for the life of the process
                log.exception("retention pass failed")
            await asyncio.sleep(self.settings.retention_interval_s)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="retention")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
