"""``Outbox.peek``, behind the window's "What is sent": always the slots the next upload sends, read-only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from agent.outbox import Outbox
from protocol.schema import Slot

START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def minutes(count: int, offset: int = 0) -> list[Slot]:
    return [Slot(start=START + timedelta(minutes=offset + i), tracked_s=60, active_s=60, idle_s=0, break_s=0,
                 input_s=10, keys=i, clicks=0, scrolls=0, mouse_px=0) for i in range(count)]


def test_peek_is_what_take_batch_sends_and_changes_nothing(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path)
    try:
        assert outbox.peek() == []
        outbox.commit(minutes(5), checkpoint="{}")
        assert outbox.peek(limit=3) == minutes(3)
        assert outbox.peek(limit=3) == minutes(3), "peeking forms no batch"
        batch = outbox.take_batch(limit=2)
        assert batch is not None
        outbox.commit(minutes(1, offset=-1), checkpoint="{}")  # older, but the batch in flight goes first
        assert outbox.peek() == batch.slots
        outbox.set_aside(batch.batch_id, "refused")
        assert outbox.peek() == minutes(1, offset=-1) + minutes(3)[2:] + minutes(5)[3:]
        nxt = outbox.take_batch()
        assert nxt is not None
        outbox.acknowledge(nxt.batch_id)
        assert outbox.peek() == [] and outbox.pending_count() == 0
    finally:
        outbox.close()
