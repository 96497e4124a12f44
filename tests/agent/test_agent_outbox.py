"""The outbox: exactly-once storage of final minutes, batches that survive a retry, bounded retention."""

from __future__ import annotations

import logging
import sqlite3
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


def test_minutes_stamped_ahead_of_the_clock_wait_for_their_time(tmp_path: Path) -> None:
    """After the wall clock stepped forward and back, the timeline is ahead: its minutes wait, none is lost."""
    now = [T0 + timedelta(minutes=1, seconds=59)]
    box = Outbox(tmp_path, now=lambda: now[0])
    box.commit([slot(m) for m in range(4)], "{}")
    assert box.take_batch() is not None
    first = box.take_batch()  # the same batch, not yet acknowledged
    assert first is not None and [s.start for s in first.slots] == [slot(0).start, slot(1).start]
    box.acknowledge(first.batch_id)
    assert box.take_batch() is None
    assert box.pending_count() == 2
    now[0] = T0 + timedelta(minutes=3)
    later = box.take_batch()
    assert later is not None and [s.start for s in later.slots] == [slot(2).start, slot(3).start]


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

    box = open_outbox(tmp_path, now=T0 + timedelta(hours=6))  # every minute written has ended
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


def test_held_minutes_are_stored_but_not_offered_until_settled(tmp_path: Path) -> None:
    box = open_outbox(tmp_path)
    idle_minute = slot(1).model_copy(update={"active_s": 20, "idle_s": 40, "input_s": 10})
    box.commit([slot(0), idle_minute], "{}", hold=lambda s: s.idle_s > 0)
    assert box.pending_count() == 1 and box.held_count() == 1
    assert [s.start for s in box.peek()] == [T0]
    batch = box.take_batch()
    assert batch is not None and [s.start for s in batch.slots] == [T0]
    box.acknowledge(batch.batch_id)
    assert box.take_batch() is None
    assert box.settle_held(lambda s: s.model_copy(update={"idle_s": 0, "break_s": s.idle_s})) == 1
    assert box.held_count() == 0 and box.pending_count() == 1
    (released,) = box.peek()
    assert (released.active_s, released.idle_s, released.break_s) == (20, 0, 40)


def test_settling_can_drop_a_held_minute(tmp_path: Path) -> None:
    box = open_outbox(tmp_path)
    box.commit([slot(0), slot(1)], "{}", hold=lambda _s: True)
    assert box.settle_held(lambda s: None if s.start == T0 else s) == 2
    assert [s.start for s in box.peek()] == [T0 + timedelta(minutes=1)]


def test_an_outbox_from_before_held_minutes_gets_the_column_in_place(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "outbox.sqlite3") as db:
        db.executescript("""
            CREATE TABLE slot (start INTEGER PRIMARY KEY, body TEXT NOT NULL, batch_id TEXT,
                               sent INTEGER NOT NULL DEFAULT 0, refused TEXT);
            CREATE TABLE checkpoint (name TEXT PRIMARY KEY, body TEXT NOT NULL);""")
        db.execute("INSERT INTO slot (start, body) VALUES (?, ?)", (int(T0.timestamp()), slot(0).model_dump_json()))
    box = open_outbox(tmp_path)
    assert box.pending_count() == 1 and box.held_count() == 0 and box.peek() == [slot(0)]
    box.close()
    assert open_outbox(tmp_path).pending_count() == 1  # a second open finds the column there
