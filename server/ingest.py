"""Storing activity batches exactly once.

Two keys make a retry harmless: the batch id (the same upload again gets "all duplicates", and the same id
with other slots is refused as a client bug), and (device, slot start) (a minute already stored from another
batch is counted as a duplicate, never stored twice). A batch is checked whole before anything is written:
one bad slot refuses the batch and stores nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from protocol.schema import SLOT_SECONDS, ActivityBatch, ActivityResult
from server.auth import Principal
from server.config import Settings
from server.errors import Conflict, Invalid
from server.models import ActivitySlot, Batch
from server.totals import local_date


def check_window(batch: ActivityBatch, now: datetime, settings: Settings) -> None:
    oldest = now - timedelta(days=settings.retention_days)
    newest = now + timedelta(seconds=settings.future_skew_s)
    for index, slot in enumerate(batch.slots):
        field = f"slots[{index}].start"
        if slot.start < oldest:
            raise Invalid(f"{field}: older than the {settings.retention_days}-day retention window", field=field)
        if slot.start > newest - timedelta(seconds=SLOT_SECONDS):  # start + 60 s overflows on 9999-12-31T23:59
            raise Invalid(f"{field}: minute has not ended yet by the server's clock", field=field)


def batch_digest(batch: ActivityBatch) -> str:
    canonical = "\n".join(slot.model_dump_json() for slot in sorted(batch.slots, key=lambda s: s.start))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def store_batch(session: AsyncSession, principal: Principal, batch: ActivityBatch, *, now: datetime,
                      settings: Settings) -> tuple[ActivityResult, set[date]]:
    """Store what is new in ``batch``; return the counts and the user's local dates it touched.

    Two statements whatever the batch's size: the slots, inserted at once, returning the minutes that were new;
    then the batch record. A batch id seen before costs a third look-up, and a reused id with other slots
    raises ``Conflict`` — the caller rolls back, so the slots just inserted are not stored either.
    """
    check_window(batch, now, settings)
    device_id = principal.device.id
    digest = batch_digest(batch)
    fresh = await insert_returning_starts(session, [
        {"device_id": device_id, "user_id": principal.user.id, **slot.model_dump()} for slot in batch.slots])
    result = ActivityResult(accepted=len(fresh), duplicates=len(batch.slots) - len(fresh))
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    recorded = await session.scalar(dialect.insert(Batch).values(
        device_id=device_id, batch_id=str(batch.batch_id), digest=digest, accepted=result.accepted,
        duplicates=result.duplicates, received_at=now).on_conflict_do_nothing().returning(Batch.batch_id))
    if recorded is None:  # this batch id was used before: a retry, or a client bug
        known = await session.get(Batch, (device_id, str(batch.batch_id)))
        if known is not None and known.digest != digest:
            raise Conflict("batch_id was already used for different slots", field="batch_id")
        return ActivityResult(accepted=0, duplicates=len(batch.slots)), set()
    zone = principal.user.time_zone
    return result, {local_date(start, zone) for start in fresh}


async def insert_returning_starts(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> set[datetime]:
    """Insert slot rows, dropping those whose (device, start) is stored already; the starts that were new."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    inserted = await session.execute(
        dialect.insert(ActivitySlot).on_conflict_do_nothing().returning(ActivitySlot.start), list(rows))
    return set(inserted.scalars())
