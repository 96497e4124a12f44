"""The runner with an injected clock and idle source: restart after a crash resumes without loss or repeats."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent.errors import IdleUnavailable
from agent.outbox import Outbox
from agent.returning import ANSWER_WAIT_S, IdleAnswer, IdleReturn
from agent.runner import CHECKPOINT_EVERY_S, Runner
from agent.states import PresenceChange, WorkState
from protocol.schema import Slot
from support.fakes import FakeClock as _Clock
from support.fakes import FakeIdle, FakeKeyboard

T0 = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)


class FakeClock(_Clock):
    """Starting at ``T0``, the minute every test here counts from."""

    def __init__(self) -> None:
        super().__init__(T0)


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


def type_keys(runner: Runner, clock: FakeClock, keyboard: FakeKeyboard, seconds: int) -> None:
    """A key a second for ``seconds`` samples."""
    for _ in range(seconds):
        clock.tick()
        keyboard.press()
        runner.sample()


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
    # 2 keys a second for 30 s; a kill loses at most the seconds since the last checkpoint (and their keys)
    assert minutes[T0 + timedelta(minutes=1)].keys >= 2 * (30 - CHECKPOINT_EVERY_S)
    seqs = [c.seq for c in changes]
    assert seqs == sorted(set(seqs)), "presence seq must keep growing across the restart"
    assert [c.state for c in changes][-1] is WorkState.AWAY


def test_a_kill_loses_at_most_five_seconds_of_input(tmp_path: Path) -> None:
    """The bound docs/reliability.md states (4 s with samples exactly 1 s apart; up to about 6 s when a busy
    machine delays them), at each second of two checkpoint intervals: one key a second, kill -9, restart."""
    lost = []
    for killed_after in range(61, 73):
        data = tmp_path / str(killed_after)
        data.mkdir()
        clock, idle, keyboard = FakeClock(), FakeIdle(), FakeKeyboard()
        runner = make_runner(data, clock, idle, keyboard, [])
        for _ in range(killed_after):
            clock.tick()
            keyboard.press()
            runner.sample()
        make_runner(data, clock, idle, FakeKeyboard(), []).close()  # the first runner never closes: a kill
        lost.append(killed_after - total(all_slots(data), "keys"))
    assert max(lost) == 4  # the checkpoint is written every 5 s (it was 15: up to 14 lost)


def test_a_stop_counts_the_input_since_the_last_sample(tmp_path: Path) -> None:
    clock, idle, keyboard = FakeClock(), FakeIdle(), FakeKeyboard()
    runner = make_runner(tmp_path, clock, idle, keyboard, [])
    clock.tick()
    runner.sample()
    keyboard.press(7)
    clock.tick(0.3)  # the stop comes before the next sample
    runner.close()
    assert [(s.keys, s.input_s, s.tracked_s) for s in all_slots(tmp_path)] == [(7, 1, 1)]  # its second counts


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


def stop_and_restart_typing(tmp_path: Path, *, uploaded: bool) -> list[Slot]:
    """Typing a key a second from 10:00:00, a clean stop at 10:00:10, a restart at 10:00:15 (the minute of the
    stop taken for upload meanwhile if ``uploaded``), typing until 10:01:15, a stop: the slots written."""
    clock, idle, keyboard = FakeClock(), FakeIdle(), FakeKeyboard()
    runner = make_runner(tmp_path, clock, idle, keyboard, [])
    type_keys(runner, clock, keyboard, 10)
    runner.close()
    if uploaded:
        assert Outbox(tmp_path, now=clock.now).take_batch() is not None
    clock.tick(5)
    keyboard = FakeKeyboard()  # a new process: its counter starts at 0
    runner = make_runner(tmp_path, clock, idle, keyboard, [])
    for _ in range(60):
        clock.tick()
        keyboard.press()
        runner.sample()
    runner.close()
    return all_slots(tmp_path)


def test_a_restart_inside_the_minute_a_stop_wrote_continues_it_while_unsent(tmp_path: Path) -> None:
    slots = stop_and_restart_typing(tmp_path, uploaded=False)
    # 10:00:01–10:00:10 before the stop, 10:00:16–10:01:00 after the restart (the gap between is untracked);
    # the keys of each run's first sample count in its first tracked second, as at any start.
    assert [(s.start, s.tracked_s, s.keys) for s in slots] == [(T0, 9 + 44, 10 + 45),
                                                               (T0 + timedelta(minutes=1), 15, 15)]


def test_a_restart_inside_a_minute_already_taken_for_upload_tracks_nothing_until_its_end(tmp_path: Path) -> None:
    slots = stop_and_restart_typing(tmp_path, uploaded=True)
    # 10:00:15–10:01:00 cannot be added to the minute taken: not tracked, and the keys typed then are not counted
    # either (they used to land in 10:01: 61 keys in 15 tracked seconds). The last sample before 10:01 carries.
    assert [(s.start, s.tracked_s, s.keys) for s in slots] == [(T0, 9, 10), (T0 + timedelta(minutes=1), 15, 16)]


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


# --- idle minutes held until the person says what the spell was ------------------------------------------------


class Asked:
    """What a front end hears: the questions and the settlements."""

    def __init__(self) -> None:
        self.questions: list[IdleReturn] = []
        self.settled: list[IdleAnswer | None] = []


def all_slots(tmp_path: Path) -> list[Slot]:
    return [Slot.model_validate_json(body) for _start, body in sorted(stored(tmp_path).items())]


def held(tmp_path: Path) -> list[Slot]:
    with sqlite3.connect(tmp_path / "outbox.sqlite3") as db:
        rows = db.execute("SELECT body FROM slot WHERE held = 1 ORDER BY start").fetchall()
    return [Slot.model_validate_json(body) for (body,) in rows]


def total(slots: list[Slot], field: str) -> int:
    return sum(getattr(s, field) for s in slots)


def idle_then_back(tmp_path: Path, asked: Asked | None) -> tuple[FakeClock, Runner]:
    """Typing 10:00:00–10:00:30, nothing until 10:03:50 (idle from 10:00:30: the threshold is 60 s), typing
    again until 10:04:20: the return minute 10:03 is closed by then."""
    clock, idle, keyboard = FakeClock(), FakeIdle(), FakeKeyboard()
    runner = make_runner(tmp_path, clock, idle, keyboard, [])
    if asked is not None:
        runner.ask_on_return(asked.questions.append, asked.settled.append)
    for second in range(260):
        clock.tick()
        quiet = 30 <= second < 230
        idle.idle = idle.idle + 1 if quiet else 0.0
        if not quiet:
            keyboard.press()
        runner.sample()
    return clock, runner


def test_without_anyone_to_ask_nothing_is_held(tmp_path: Path) -> None:
    idle_then_back(tmp_path, None)
    slots = all_slots(tmp_path)
    assert held(tmp_path) == [] and total(slots, "idle_s") == 200
    assert Outbox(tmp_path, now=lambda: T0).pending_count() == len(slots) == 4


def test_idle_minutes_wait_for_the_question_and_are_not_uploaded(tmp_path: Path) -> None:
    asked = Asked()
    idle_then_back(tmp_path, asked)
    assert asked.questions == [IdleReturn(since=T0 + timedelta(seconds=30), until=T0 + timedelta(seconds=230))]
    assert asked.settled == []
    kept = held(tmp_path)
    assert [s.start.minute for s in kept] == [0, 1, 2, 3] and total(kept, "idle_s") == 200
    box = Outbox(tmp_path, now=lambda: T0)
    assert box.pending_count() == 0 and box.peek() == [] and box.take_batch() is None


@pytest.mark.parametrize(("answer", "active", "idle", "break_s", "tracked", "minutes"), [
    (IdleAnswer.KEEP, 260, 0, 0, 260, 5),
    (IdleAnswer.BREAK, 60, 0, 200, 260, 5),
    (IdleAnswer.DISCARD, 60, 0, 0, 60, 3),  # 10:01 and 10:02 were all idle: they are gone, like away minutes
])
def test_the_answer_rewrites_the_idle_seconds_and_releases_them(tmp_path: Path, answer: IdleAnswer, active: int,
                                                                idle: int, break_s: int, tracked: int,
                                                                minutes: int) -> None:
    asked = Asked()
    clock, runner = idle_then_back(tmp_path, asked)
    runner.answer_idle(answer)
    clock.tick()
    runner.sample()
    assert asked.settled == [answer] and held(tmp_path) == []
    runner.close()
    slots = all_slots(tmp_path)
    assert (total(slots, "active_s"), total(slots, "idle_s"), total(slots, "break_s")) == (active, idle, break_s)
    assert total(slots, "tracked_s") == tracked and len(slots) == minutes
    assert total(slots, "keys") == 60  # what was measured stays
    assert Outbox(tmp_path, now=lambda: T0).pending_count() == minutes


def test_an_answer_before_the_return_minute_closes_covers_its_idle_seconds_too(tmp_path: Path) -> None:
    asked = Asked()
    clock, idle, keyboard = FakeClock(), FakeIdle(), FakeKeyboard()
    runner = make_runner(tmp_path, clock, idle, keyboard, [])
    runner.ask_on_return(asked.questions.append, asked.settled.append)
    for second in range(240):  # back at 10:03:50, answered at 10:04:00: minute 10:04 holds no idle
        clock.tick()
        quiet = 30 <= second < 230
        idle.idle = idle.idle + 1 if quiet else 0.0
        if not quiet:
            keyboard.press()
        if second == 232:
            runner.answer_idle(IdleAnswer.BREAK)
        runner.sample()
    assert asked.settled == [IdleAnswer.BREAK]
    slots = all_slots(tmp_path)
    assert total(slots, "idle_s") == 0 and total(slots, "break_s") == 200


def test_no_answer_in_ten_minutes_releases_the_minutes_as_idle(tmp_path: Path) -> None:
    asked = Asked()
    clock, runner = idle_then_back(tmp_path, asked)
    for _ in range(int(ANSWER_WAIT_S) - 40):
        clock.tick()
        runner.sample()
    assert asked.settled == [] and held(tmp_path)
    for _ in range(20):
        clock.tick()
        runner.sample()
    assert asked.settled == [None] and held(tmp_path) == []
    runner.answer_idle(IdleAnswer.KEEP)  # too late: ignored
    clock.tick()
    runner.sample()
    assert total(all_slots(tmp_path), "idle_s") == 200


def test_quit_and_restart_release_held_minutes_unchanged(tmp_path: Path) -> None:
    asked = Asked()
    (tmp_path / "quit").mkdir()
    _clock, runner = idle_then_back(tmp_path / "quit", asked)
    runner.close()
    assert asked.settled == [None] and held(tmp_path / "quit") == []
    assert total(all_slots(tmp_path / "quit"), "idle_s") == 200

    crashed = tmp_path / "crash"
    crashed.mkdir()
    clock, _runner = idle_then_back(crashed, Asked())  # kill -9: no close()
    assert total(held(crashed), "idle_s") == 200
    make_runner(crashed, clock, FakeIdle(), FakeKeyboard(), [])
    assert held(crashed) == [] and Outbox(crashed, now=lambda: T0).pending_count() == 4


# --- a stop whose idle backend fails, a start whose outbox cannot be written -----------------------------------


class FailingIdle(FakeIdle):
    """An OS idle backend that stops answering (an X server gone, GetLastInputInfo failing)."""

    failing = False

    def idle_seconds(self) -> float:
        if self.failing:
            raise IdleUnavailable("GetLastInputInfo failed")
        return super().idle_seconds()


@pytest.mark.parametrize("catch_up", [False, True])
def test_a_stop_whose_idle_backend_fails_still_writes_the_minute_and_checkpoint(
        tmp_path: Path, catch_up: bool, caplog: pytest.LogCaptureFixture) -> None:
    clock, idle, keyboard = FakeClock(), FailingIdle(), FakeKeyboard()
    runner = Runner(outbox=Outbox(tmp_path, now=clock.now), clock=clock, counts=keyboard.totals, idle=idle,
                    idle_threshold=60, catch_up=(lambda _last_input: True) if catch_up else None)
    type_keys(runner, clock, keyboard, 10)
    idle.failing = True
    clock.tick()
    with pytest.raises(IdleUnavailable):
        runner.sample()
    runner.close()
    assert [(s.start, s.keys, s.tracked_s) for s in all_slots(tmp_path)] == [(T0, 10, 9)]
    assert runner.stopped_minute == T0  # the checkpoint says where the stop was: a restart can continue it
    assert caplog.text.count("the last reading at stop failed") == 1


def test_run_ended_by_a_failing_idle_backend_still_writes_the_minute(tmp_path: Path) -> None:
    clock, idle, keyboard = FakeClock(), FailingIdle(), FakeKeyboard()
    runner = make_runner(tmp_path, clock, idle, keyboard, [])
    type_keys(runner, clock, keyboard, 10)
    idle.failing = True
    with pytest.raises(IdleUnavailable):
        runner.run(threading.Event(), every=0.0)  # sample() raises at once; the finally closes
    assert [(s.start, s.keys) for s in all_slots(tmp_path)] == [(T0, 10)]


def test_a_start_that_cannot_write_the_outbox_does_not_reopen_and_still_starts(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    clock, idle, keyboard = FakeClock(), FakeIdle(), FakeKeyboard()
    runner = make_runner(tmp_path, clock, idle, keyboard, [])
    type_keys(runner, clock, keyboard, 10)
    runner.close()
    clock.tick(5)
    box = Outbox(tmp_path, now=clock.now)
    box._db.execute("PRAGMA query_only = ON")  # every write now fails with sqlite3.OperationalError
    restarted = Runner(outbox=box, clock=clock, counts=FakeKeyboard().totals, idle=idle, idle_threshold=60)
    assert "cannot take back the minute" in caplog.text
    assert restarted.stopped_minute == T0, "the tracker was not changed: the stop's minute stays written"
    box._db.execute("PRAGMA query_only = OFF")
    for _ in range(60):
        clock.tick()
        restarted.sample()
    restarted.close()
    # as when the minute was taken for upload: the rest of 10:00 is not tracked, 10:01 is
    assert [(s.start, s.tracked_s) for s in all_slots(tmp_path)] == [(T0, 9), (T0 + timedelta(minutes=1), 15)]
