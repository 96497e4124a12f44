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

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from protocol.schema import SLOT_SECONDS, ActivityBatch, ActivityResult
from server.auth import Principal
from server.config import Settings
from server.errors import Conflict, Invalid
from server.models import ActivitySlot, Batch
from server.totals import local_date


async def insert_ignoring_conflicts(session: AsyncSession, model: Any, rows: Sequence[dict[str, Any]]) -> None:
    """INSERT … ON CONFLICT DO NOTHING on either database: a racing duplicate is dropped, not an error."""
    if not rows:
        return
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    await session.execute(dialect.insert(model).on_conflict_do_nothing(), list(rows))


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
    """Store what is new in ``batch``; return the counts and the user's local dates it touched."""
    check_window(batch, now, settings)
    device_id = principal.device.id
    digest = batch_digest(batch)
    known = await session.get(Batch, (device_id, str(batch.batch_id)))
    if known is not None:
        if known.digest != digest:
            raise Conflict("batch_id was already used for different slots", field="batch_id")
        return ActivityResult(accepted=0, duplicates=len(batch.slots)), set()

    starts = [slot.start for slot in batch.slots]
    stored = set(await session.scalars(select(ActivitySlot.start).where(
        ActivitySlot.device_id == device_id, ActivitySlot.start.in_(starts))))
    fresh = [slot for slot in batch.slots if slot.start not in stored]
    await insert_ignoring_conflicts(session, ActivitySlot, [
        {"device_id": device_id, "user_id": principal.user.id, **slot.model_dump()} for slot in fresh])
    result = ActivityResult(accepted=len(fresh), duplicates=len(batch.slots) - len(fresh))
    await insert_ignoring_conflicts(session, Batch, [{
        "device_id": device_id, "batch_id": str(batch.batch_id), "digest": digest,
        "accepted": result.accepted, "duplicates": result.duplicates, "received_at": now}])
    zone = principal.user.time_zone
    return result, {local_date(slot.start, zone) for slot in fresh}
