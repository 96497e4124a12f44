"""The outbox: exactly-once storage of final minutes, batches that survive a retry, bounded retention."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent.outbox import Outbox
from protocol.schema import Slot

T0 = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)


def slot(minute: int, keys: int = 1) -> Slot:
    return Slot(
        start=T0 + timedelta(minutes=minute),
        tracked_s=60,
        active_s=60,
        idle_s=0,
        break_s=0,
        input_s=10,
        keys=keys,
        clicks=0,
        scrolls=0,
        mouse_px=0,
    )


def open_outbox(path: Path, now: datetime = T0 + timedelta(hours=1)) -> Outbox:
    return Outbox(path, now=lambda: now)


def test_slots_and_checkpoint_survive_reopening(tmp_path: Path) -> None:
    box = open_outbox(tmp_path)
    box.commit([slot(0), slot(1)], '{"cursor": 1}')
    box.close()
    box = open_outbox(tmp_path)
    assert box.pending_count() == 2
    assert box.checkpoint() == '{"cursor": 1}'


def test_a_minute_is_stored_once_even_if_committed_again(tmp_path: Path) -> None:
    box = open_outbox(tmp_path)
    box.commit([slot(0, keys=5)], "{}")
    box.commit([slot(0, keys=9)], "{}")
    batch = box.take_batch()
    assert batch is not None
    assert [s.keys for s in batch.slots] == [5]


def test_batch_is_reused_until_acknowledged_even_across_a_restart(tmp_path: Path) -> None:
    box = open_outbox(tmp_path)
    box.commit([slot(m) for m in range(5)], "{}")
    first = box.take_batch(limit=3)
    assert first is not None
    assert [s.start for s in first.slots] == [slot(m).start for m in range(3)]
    box.commit([slot(9)], "{}")
    box.close()
    box = open_outbox(tmp_path)
    again = box.take_batch(limit=3)
    assert again == first
    box.acknowledge(first.batch_id)
    assert box.pending_count() == 3
    rest = box.take_batch(limit=10)
    assert rest is not None
    assert rest.batch_id != first.batch_id
    assert [s.start for s in rest.slots] == [slot(m).start for m in (3, 4, 9)]
    box.acknowledge(rest.batch_id)
    assert box.take_batch() is None
    assert box.pending_count() == 0


def test_retention_drops_old_unsent_minutes_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    box = open_outbox(tmp_path)
    box.commit([slot(0), slot(60 * 24 * 40)], "{}")
    box.close()
    with caplog.at_level(logging.WARNING):
        box = open_outbox(tmp_path, now=T0 + timedelta(days=35))
    assert box.pending_count() == 1
    assert "dropped 1 unsent minutes" in caplog.text


def test_retention_keeps_a_batch_in_flight(tmp_path: Path) -> None:
    box = open_outbox(tmp_path)
    box.commit([slot(0)], "{}")
    batch = box.take_batch()
    box.close()
    box = open_outbox(tmp_path, now=T0 + timedelta(days=35))
    assert box.take_batch() == batch


def test_database_uses_wal(tmp_path: Path) -> None:
    box = open_outbox(tmp_path)
    assert box._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_set_aside_batch_is_kept_with_its_reason_and_never_offered_again(tmp_path: Path) -> None:
    box = open_outbox(tmp_path)
    box.commit([slot(0), slot(1)], "{}")
    refused = box.take_batch(limit=1)
    assert refused is not None
    box.set_aside(refused.batch_id, "slots[0].start: older than the retention window")
    assert box.pending_count() == 1
    box.close()
    box = open_outbox(tmp_path)  # the refusal survives a restart
    nxt = box.take_batch()
    assert nxt is not None and nxt.batch_id != refused.batch_id
    assert [s.start for s in nxt.slots] == [slot(1).start]
    box.acknowledge(nxt.batch_id)
    assert box.take_batch() is None
    assert box.set_aside_reasons() == {"slots[0].start: older than the retention window": 1}


def test_two_threads_share_one_outbox(tmp_path: Path) -> None:
    import threading

    box = open_outbox(tmp_path)
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for minute in range(300):
                box.commit([slot(minute)], "{}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    sent = 0
    while thread.is_alive() or box.pending_count():
        batch = box.take_batch(limit=7)
        if batch is not None:
            box.acknowledge(batch.batch_id)
            sent += len(batch.slots)
    thread.join()
    assert errors == []
    assert sent == 300
