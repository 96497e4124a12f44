"""The runner with an injected clock and idle source: restart after a crash resumes without loss or repeats."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent.outbox import Outbox
from agent.runner import Runner
from agent.slots import InputCounts
from agent.states import PresenceChange, WorkState

T0 = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self) -> None:
        self.wall = T0
        self.mono = 100.0

    def now(self) -> datetime:
        return self.wall

    def monotonic(self) -> float:
        return self.mono

    def tick(self, seconds: float = 1.0) -> None:
        self.wall += timedelta(seconds=seconds)
        self.mono += seconds


class FakeIdle:
    def __init__(self) -> None:
        self.idle = 0.0
        self.is_locked = False

    def idle_seconds(self) -> float:
        return self.idle

    def locked(self) -> bool:
        return self.is_locked


class FakeKeyboard:
    def __init__(self) -> None:
        self.total = InputCounts()

    def press(self, keys: int = 1) -> None:
        self.total += InputCounts(keys=keys)

    def totals(self) -> InputCounts:
        return self.total


def make_runner(
    tmp_path: Path, clock: FakeClock, idle: FakeIdle, keyboard: FakeKeyboard, changes: list[PresenceChange]
) -> Runner:
    return Runner(
        outbox=Outbox(tmp_path, now=clock.now),
        clock=clock,
        counts=keyboard.totals,
        idle=idle,
        idle_threshold=60,
        on_change=changes.append,
    )


def stored(tmp_path: Path) -> dict[int, str]:
    with sqlite3.connect(tmp_path / "outbox.sqlite3") as db:
        return dict(db.execute("SELECT start, body FROM slot").fetchall())


def test_restart_after_a_crash_keeps_closed_minutes_and_continues_the_open_one(tmp_path: Path) -> None:
    clock, idle, keyboard = FakeClock(), FakeIdle(), FakeKeyboard()
    changes: list[PresenceChange] = []
    runner = make_runner(tmp_path, clock, idle, keyboard, changes)
    for _ in range(90):
        clock.tick()
        keyboard.press(2)
        runner.sample()
    before = stored(tmp_path)
    assert len(before) == 1  # 10:00 is final; 10:01 is open and only in the checkpoint
    # kill -9: no close(); a new process opens the same directory 5 s later
    clock.tick(5)
    runner = make_runner(tmp_path, clock, idle, keyboard, changes)
    for _ in range(60):
        clock.tick()
        runner.sample()
    runner.close()
    after = stored(tmp_path)
    assert {k: v for k, v in after.items() if k in before} == before
    slots = Outbox(tmp_path, now=clock.now).take_batch()
    assert slots is not None
    minutes = {s.start: s for s in slots.slots}
    assert minutes[T0].keys == 120
    assert minutes[T0 + timedelta(minutes=1)].keys >= 2 * 15  # at most checkpoint_every seconds were lost
    seqs = [c.seq for c in changes]
    assert seqs == sorted(set(seqs)), "presence seq must keep growing across the restart"
    assert [c.state for c in changes][-1] is WorkState.AWAY


def test_break_requests_from_another_thread_take_effect_at_the_next_sample(tmp_path: Path) -> None:
    clock, idle, keyboard = FakeClock(), FakeIdle(), FakeKeyboard()
    changes: list[PresenceChange] = []
    runner = make_runner(tmp_path, clock, idle, keyboard, changes)
    clock.tick()
    runner.sample()
    runner.request_break(True)
    clock.tick()
    runner.sample()
    assert changes[-1].state is WorkState.BREAK
    runner.request_break(False)
    clock.tick()
    runner.sample()
    assert changes[-1].state is WorkState.ACTIVE


def test_os_idle_time_marks_input_the_listeners_missed(tmp_path: Path) -> None:
    clock, idle, keyboard = FakeClock(), FakeIdle(), FakeKeyboard()
    changes: list[PresenceChange] = []
    runner = make_runner(tmp_path, clock, idle, keyboard, changes)
    for _ in range(70):
        clock.tick()
        idle.idle += 1
        runner.sample()
    assert changes[-1].state is WorkState.IDLE
    clock.tick()
    idle.idle = 0.3
    runner.sample()
    assert changes[-1].state is WorkState.ACTIVE


def test_a_restart_inside_an_already_written_minute_waits_for_the_next(tmp_path: Path) -> None:
    clock, idle, keyboard = FakeClock(), FakeIdle(), FakeKeyboard()
    changes: list[PresenceChange] = []
    runner = make_runner(tmp_path, clock, idle, keyboard, changes)
    for _ in range(10):
        clock.tick()
        runner.sample()
    runner.close()
    clock.tick(5)
    runner = make_runner(tmp_path, clock, idle, keyboard, changes)
    for _ in range(60):
        clock.tick()
        runner.sample()
    runner.close()
    box = Outbox(tmp_path, now=clock.now)
    batch = box.take_batch()
    assert batch is not None
    assert [(s.start, s.tracked_s) for s in batch.slots] == [(T0, 9), (T0 + timedelta(minutes=1), 15)]


def test_unreadable_checkpoint_costs_the_open_minute_not_the_agent(tmp_path: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    clock, idle, keyboard, changes = FakeClock(), FakeIdle(), FakeKeyboard(), []
    box = Outbox(tmp_path, now=clock.now)
    box.commit([], '{"not": "a tracker"}')
    box.close()
    runner = make_runner(tmp_path, clock, idle, keyboard, changes)
    for _ in range(70):
        clock.tick()
        keyboard.press()
        runner.sample()
    runner.close()
    assert "unreadable tracker checkpoint" in caplog.text
    assert stored(tmp_path), "the agent went on and wrote minutes"
