"""Storing activity batches exactly once.

Two keys make a retry harmless: the batch id (the same upload again gets "all duplicates", and the same id
with other slots is refused as a client bug), and (device, slot start) (a minute already stored from another
batch is counted as a duplicate, never stored twice). A batch is checked whole before anything is written:
one bad slot refuses the batch and stores nothing.

What a device claims is bounded (docs/protocol.md, "Bounds"): each count of a minute by the schema, the sum
of a user's devices in one minute by the same bound (checked in the writing transaction, so two devices'
uploads of one group cannot both slip under it), and the minutes themselves by time: none from before the
device was enrolled, none that has not begun by the server's clock, each within the clock-skew tolerance.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from protocol.schema import (
    BEFORE_ENROLLMENT,
    COUNT_LIMITS,
    MINUTE_FULL,
    NOT_BEGUN,
    SLOT_SECONDS,
    ActivityBatch,
    ActivityResult,
)
from server import days, db
from server.auth import Principal
from server.coalesce import Batcher
from server.config import Settings
from server.errors import ApiError, Conflict, Invalid
from server.models import ActivitySlot, Batch
from server.totals import local_date


def check_window(batch: ActivityBatch, now: datetime, settings: Settings, *, enrolled_at: datetime) -> None:
    """Refuse a batch holding a minute the device cannot have recorded: older than the retention window, from
    before the device was enrolled, or not yet begun, each by the server's clock give or take the skew.

    The agent enrolls, then samples: its first minute is the one it started in, which begins at most a minute
    before enrollment (plus its clock's skew). It uploads only minutes that have begun by its clock (the one
    written at a stop is partial), so a minute beginning later than now plus the skew is made up.

    An agent may have sampled before it was enrolled (the tray app waiting for its first code, a device enrolled
    again after a revoke). Of those minutes the refusal names the latest, with the code ``before_enrollment``:
    the agent then sets aside that minute and every earlier one, and sends the rest of the batch again, so the
    minutes it recorded after enrollment are not lost with them (sync.uploader). An agent whose clock runs
    ahead of the server's sends minutes not begun by the server's clock: the refusal names the earliest, with
    the code ``not_begun``, and the agent sends the minutes before it and keeps the rest for its next run.
    """
    skew = timedelta(seconds=settings.clock_skew_s)
    retained = now - timedelta(days=settings.retention_days)
    first = enrolled_at - skew - timedelta(seconds=SLOT_SECONDS)  # the minute the agent started in, at the earliest
    early: int | None = None  # the latest minute from before enrollment
    ahead: int | None = None  # the earliest minute not begun
    for index, slot in enumerate(batch.slots):
        if slot.start < retained:
            field = f"slots[{index}].start"
            raise Invalid(f"{field}: older than the {settings.retention_days}-day retention window", field=field)
        if slot.start > now + skew and (ahead is None or slot.start < batch.slots[ahead].start):
            ahead = index
        if slot.start < first and (early is None or slot.start > batch.slots[early].start):
            early = index
    if ahead is not None:
        field = f"slots[{ahead}].start"
        raise Invalid(f"{field}: minute has not begun yet by the server's clock "
                      f"({settings.clock_skew_s} s clock-skew tolerance)", field=field, code=NOT_BEGUN)
    if early is not None:
        field = f"slots[{early}].start"
        raise Invalid(f"{field}: minute ended before this device was enrolled "
                      f"({settings.clock_skew_s} s clock-skew tolerance)", field=field, code=BEFORE_ENROLLMENT)


def batch_digest(batch: ActivityBatch) -> str:
    canonical = "\n".join(slot.model_dump_json() for slot in sorted(batch.slots, key=lambda s: s.start))
    return hashlib.sha256(canonical.encode()).hexdigest()


#: Batches written in one transaction at most (five slots each from agents: a few thousand rows).
GROUP = 500

#: What the writer found for one batch: the minutes it stored first, or ``None`` for a batch id seen before
#: with the same slots (a retry: all duplicates).
Stored = set[datetime] | None

#: The per-minute counts the user's devices share a bound on (``protocol.schema.COUNT_LIMITS``).
COUNTED = tuple(COUNT_LIMITS)


@dataclasses.dataclass(eq=False)
class _Upload:
    """One batch waiting for the group commit, as the writer stores it."""

    device_id: int
    user_id: int
    time_zone: str  # the user's: the local days its minutes fall in are marked changed (``server.days.touch``)
    batch_id: str
    digest: str
    received_at: datetime
    slots: list[dict[str, Any]]


class Ingest:
    """Stores batches with group commit: every upload waiting while a transaction runs goes into the next one.

    A commit is the dearest part of an upload (on SQLite each statement is also a thread hop), so one
    transaction of four statements serves a whole wave of uploads instead of three statements and a commit
    each. The answer is the same as if the batches had been stored one by one in arrival order: a minute two
    batches of the group both hold is accepted by the first, a batch id repeated within the group waits for the
    next transaction, and a batch refused as a conflict stores nothing.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        #: Up to ``GROUP`` waiting batches a transaction, each (device, batch id) once: a repeat waits, in order.
        self._writer: Batcher[_Upload, Stored] = Batcher(self._write, name="ingest-writer", max_batch=GROUP,
                                                          distinct=lambda w: (w.device_id, w.batch_id))

    async def store(self, principal: Principal, batch: ActivityBatch, *, now: datetime,
                    settings: Settings) -> tuple[ActivityResult, set[date]]:
        """Store what is new in ``batch``; return the counts and the user's local dates it touched. Raises
        ``Invalid`` for a slot outside the window (nothing queued) or one that would take the user's sum of a
        minute over a bound (nothing stored), ``Conflict`` for a reused batch id."""
        check_window(batch, now, settings, enrolled_at=principal.device.created_at)
        fresh = await self._writer(_Upload(principal.device.id, principal.user.id, principal.user.time_zone,
                                            str(batch.batch_id),
                                            batch_digest(batch), now, [slot.model_dump() for slot in batch.slots]))
        if fresh is None:
            return ActivityResult(accepted=0, duplicates=len(batch.slots)), set()
        zone = principal.user.time_zone
        result = ActivityResult(accepted=len(fresh), duplicates=len(batch.slots) - len(fresh))
        return result, {local_date(start, zone) for start in fresh}

    async def _commit(self, group: Sequence[_Upload]) -> list[Stored | ApiError]:
        async with self.sessions() as session:
            outcomes = await store_group(session, group)
            await session.commit()
        return outcomes

    async def _write(self, group: list[_Upload]) -> list[Stored | ApiError]:
        """One transaction for the group; a refused batch is answered its error, the others their minutes."""
        try:
            return await self._commit(group)
        except _Entangled:  # rare: store them one by one, as if they had come one at a time
            return [outcome for waiting in group for outcome in await self._commit([waiting])]


class _Entangled(Exception):
    """A refused batch of a group stored minutes this transaction: roll it back, store the batches singly."""


def _plus(total: tuple[int, ...] | None, counts: Sequence[int]) -> tuple[int, ...]:
    return tuple(counts) if total is None else tuple(a + b for a, b in zip(total, counts, strict=True))


async def over_user_bounds(session: AsyncSession, group: Sequence[_Upload]) -> dict[int, Invalid]:
    """The batches of ``group`` (by position) refused because storing them would take a user's sum of a count
    in one minute over its bound, as if the group were stored one batch at a time in order.

    One read of the users' stored minutes in the span the group covers; a minute its own device already
    stored is a duplicate and adds nothing. Several server processes writing one user's minute at the same
    instant could each pass (their transactions do not see each other): a rare race whose overshoot is at
    most one device's minute per process.
    """
    spans: dict[int, tuple[datetime, datetime]] = {}
    for waiting in group:
        for slot in waiting.slots:
            low, high = spans.get(waiting.user_id, (slot["start"], slot["start"]))
            spans[waiting.user_id] = (min(low, slot["start"]), max(high, slot["start"]))
    stored = await session.execute(
        select(ActivitySlot.device_id, ActivitySlot.user_id, ActivitySlot.start,
               *(getattr(ActivitySlot, name) for name in COUNTED))
        .where(or_(*(and_(ActivitySlot.user_id == uid, ActivitySlot.start.between(low, high))
                     for uid, (low, high) in spans.items()))))
    present: set[tuple[int, datetime]] = set()
    sums: dict[tuple[int, datetime], tuple[int, ...]] = {}
    for device_id, user_id, start, *counts in stored:
        present.add((device_id, start))
        sums[(user_id, start)] = _plus(sums.get((user_id, start)), counts)
    refused: dict[int, Invalid] = {}
    for position, waiting in enumerate(group):
        added = [(index, slot) for index, slot in enumerate(waiting.slots)
                 if (waiting.device_id, slot["start"]) not in present]  # starts are unique within a batch
        totals = [(index, slot, _plus(sums.get((waiting.user_id, slot["start"])), [slot[n] for n in COUNTED]))
                  for index, slot in added]
        excess = [(index, slot, name) for index, slot, total in totals
                  for name, value in zip(COUNTED, total, strict=True) if value > COUNT_LIMITS[name]]
        if excess:
            index, slot, name = excess[0]
            field = f"slots[{index}].{name}"
            refused[position] = Invalid(f"{field}: with this user's other devices, the minute "
                                        f"{slot['start']:%Y-%m-%dT%H:%MZ} would hold more than "
                                        f"{COUNT_LIMITS[name]:,} {name}", field=field, code=MINUTE_FULL)
            continue
        for _index, slot, total in totals:
            sums[(waiting.user_id, slot["start"])] = total
            present.add((waiting.device_id, slot["start"]))
    return refused


async def store_group(session: AsyncSession, group: Sequence[_Upload]) -> list[Stored | ApiError]:
    """Write a group of batches (each (device, batch id) at most once) in the caller's transaction.

    First the batches that would take a user's minute over a bound are set aside, refused with nothing stored
    (``over_user_bounds``). The slots of the others in one ``INSERT … ON CONFLICT DO NOTHING RETURNING``,
    credited to the first batch of the group holding each minute; then the batch records the same way. A
    batch id stored before costs a look-up: the same slots are a retry, other slots a conflict. A conflict
    that stored minutes (a client bug racing another server process) raises ``_Entangled`` in a group, and
    deletes its minutes when alone.
    """
    refused = await over_user_bounds(session, group)
    kept = [waiting for position, waiting in enumerate(group) if position not in refused]
    stored = iter(await _insert(session, kept) if kept else [])
    return [refused[position] if position in refused else next(stored) for position in range(len(group))]


async def _insert(session: AsyncSession, group: Sequence[_Upload]) -> list[Stored | ApiError]:
    rows = [{"device_id": w.device_id, "user_id": w.user_id, **slot} for w in group for slot in w.slots]
    # On the connection, not the session: the ORM's bulk insert would walk every row through its mapper first,
    # a cost py-spy found in upload waves; the statement and its parameters are the same.
    connection = await session.connection()
    inserted = await connection.execute(
        db.insert(session, ActivitySlot).on_conflict_do_nothing().returning(ActivitySlot.device_id, ActivitySlot.start),
        rows)
    new = {(device_id, start) for device_id, start in inserted}
    fresh: list[set[datetime]] = []
    for waiting in group:
        mine = {slot["start"] for slot in waiting.slots if (waiting.device_id, slot["start"]) in new}
        new -= {(waiting.device_id, start) for start in mine}
        fresh.append(mine)
    recorded = await connection.execute(
        db.insert(session, Batch).on_conflict_do_nothing().returning(Batch.device_id, Batch.batch_id),
        [{"device_id": w.device_id, "batch_id": w.batch_id, "digest": w.digest, "accepted": len(mine),
          "duplicates": len(w.slots) - len(mine), "received_at": w.received_at}
         for w, mine in zip(group, fresh, strict=True)])
    first_time = {(device_id, batch_id) for device_id, batch_id in recorded}
    await days.touch(session, {(w.user_id, local_date(start, w.time_zone), w.time_zone)
                               for w, mine in zip(group, fresh, strict=True) for start in mine})
    outcomes: list[Stored | ApiError] = []
    for waiting, mine in zip(group, fresh, strict=True):
        if (waiting.device_id, waiting.batch_id) in first_time:
            outcomes.append(mine)
            continue
        known = await session.get(Batch, (waiting.device_id, waiting.batch_id))
        if known is not None and known.digest != waiting.digest:
            if mine and len(group) > 1:  # deleting its minutes could take some a later batch counted as stored
                raise _Entangled
            if mine:
                await session.execute(delete(ActivitySlot).where(ActivitySlot.device_id == waiting.device_id,
                                                                 ActivitySlot.start.in_(mine)))
            outcomes.append(Conflict("batch_id was already used for different slots", field="batch_id"))
        else:
            outcomes.append(None)
    return outcomes
