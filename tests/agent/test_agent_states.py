"""The work-state machine and slot filling, driven by an injected clock and synthetic input."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from agent_sim import Sim, at

from agent.slots import InputCounts, Kind, SlotBook
from agent.states import Tracker, WorkState
from protocol.schema import COUNT_LIMITS, MAX_KEYS_PER_MINUTE


def since(text: str) -> datetime:
    return datetime.fromtimestamp(at(text), UTC)


def test_idle_starts_exactly_at_the_threshold_and_is_backdated_to_the_last_input() -> None:
    sim = Sim("2026-05-04T10:00:00Z", threshold=300)
    sim.run(10, typed=True)  # last input at 10:00:10
    sim.run(299)
    assert sim.state is WorkState.ACTIVE
    sim.step()
    assert sim.state is WorkState.IDLE
    assert sim.changes[-1].state is WorkState.IDLE
    assert sim.changes[-1].since == since("2026-05-04T10:00:10Z")


def test_backdated_idle_reclassifies_the_quiet_seconds_of_a_minute_not_yet_sent() -> None:
    sim = Sim("2026-05-04T10:00:00Z", threshold=300)
    sim.run(10, typed=True)
    sim.run(200)
    assert sim.slots == []  # minute 10:00 could still turn out active or idle
    sim.run(100)
    first = sim.slot("2026-05-04T10:00:00Z")
    assert (first.active_s, first.idle_s, first.input_s) == (10, 50, 10)
    assert sim.slot("2026-05-04T10:03:00Z").idle_s == 60


def test_a_quiet_spell_shorter_than_the_threshold_stays_active() -> None:
    sim = Sim("2026-05-04T10:00:00Z", threshold=300)
    sim.step(typed=True)
    sim.run(298)
    sim.step(typed=True)
    sim.stop()
    assert sim.total("idle_s") == 0
    assert sim.total("active_s") == 300
    assert sim.total("input_s") == 2
    assert [c.state for c in sim.changes] == [WorkState.ACTIVE, WorkState.AWAY]


def test_input_after_idle_is_active_from_that_sample() -> None:
    sim = Sim("2026-05-04T10:00:00Z", threshold=60)
    sim.run(120)
    sim.step(typed=True)
    assert sim.state is WorkState.ACTIVE
    assert sim.changes[-1].since == since("2026-05-04T10:02:00Z")
    sim.stop()
    assert sim.slot("2026-05-04T10:02:00Z").active_s == 1


def test_break_inside_idle() -> None:
    sim = Sim("2026-05-04T10:00:00Z", threshold=60)
    sim.run(5, typed=True)
    sim.run(175)  # idle since 10:00:05, now 10:03:00
    sim.set_break(True)
    sim.run(120)  # break until 10:05:00, no input
    sim.set_break(False)
    sim.run(60, typed=True)
    sim.stop()
    states = [(c.state, c.since) for c in sim.changes]
    assert states == [
        (WorkState.ACTIVE, since("2026-05-04T10:00:00Z")),
        (WorkState.IDLE, since("2026-05-04T10:00:05Z")),
        (WorkState.BREAK, since("2026-05-04T10:03:00Z")),
        (WorkState.ACTIVE, since("2026-05-04T10:05:00Z")),
        (WorkState.AWAY, since("2026-05-04T10:06:00Z")),
    ]
    assert (sim.total("active_s"), sim.total("idle_s"), sim.total("break_s")) == (65, 175, 120)
    assert sim.changes == sorted(sim.changes, key=lambda c: c.seq)


def test_break_survives_a_locked_screen_and_counts_as_break() -> None:
    sim = Sim(threshold=60)
    sim.set_break(True)
    sim.run(30, locked=True)
    sim.stop()
    assert sim.total("break_s") == 30
    assert sim.total("tracked_s") == 30


def test_locked_screen_is_away_and_untracked_until_unlocked_input() -> None:
    sim = Sim("2026-05-04T10:00:00Z", threshold=300)
    sim.run(20, typed=True)
    sim.run(100, locked=True)
    assert sim.state is WorkState.AWAY
    assert sim.changes[-1].since == since("2026-05-04T10:00:20Z")
    sim.run(40)  # unlocked but nobody typed: still away
    sim.step(typed=True)
    assert sim.state is WorkState.ACTIVE
    sim.stop()
    assert sim.total("tracked_s") == 21


def test_sleep_gap_is_untracked_and_away_from_the_gap_start() -> None:
    sim = Sim("2026-05-04T10:00:00Z", threshold=300)
    sim.run(30, typed=True)
    sim.step(3600)  # suspended for an hour: both clocks moved (a suspend-counting monotonic clock)
    assert sim.state is WorkState.AWAY
    assert sim.changes[-1].since == since("2026-05-04T10:00:30Z")
    sim.run(30, typed=True)
    sim.stop()
    assert sim.total("tracked_s") == 60
    assert sim.total("active_s") == 60


def test_sleep_seen_only_as_a_wall_clock_jump_is_untracked_too() -> None:
    sim = Sim("2026-05-04T10:00:00Z")
    sim.run(30, typed=True)
    sim.step(1, wall_shift=3600)  # a monotonic clock that stopped while suspended
    sim.run(29, typed=True)
    sim.stop()
    assert sim.total("tracked_s") == 60
    assert {s.start for s in sim.slots} == {since("2026-05-04T10:00:00Z"), since("2026-05-04T11:00:00Z")}


def test_backward_clock_step_neither_repeats_nor_loses_minutes() -> None:
    sim = Sim("2026-05-04T10:00:00Z")
    sim.run(150, typed=True)
    sim.step(1, typed=True, wall_shift=-3600)
    sim.run(149, typed=True)
    sim.stop()
    starts = [s.start for s in sim.slots]
    assert starts == sorted(set(starts))
    assert sim.total("tracked_s") == 300
    assert starts[0] == since("2026-05-04T10:00:00Z")
    assert starts[-1] == since("2026-05-04T10:04:00Z")


def test_small_wall_clock_wobble_is_ignored() -> None:
    sim = Sim("2026-05-04T10:00:00Z")
    sim.step(1, typed=True, wall_shift=1.5)
    sim.run(59, typed=True)
    sim.stop()
    assert [(s.start, s.tracked_s) for s in sim.slots] == [(since("2026-05-04T10:00:00Z"), 60)]


def test_minutes_across_midnight_belong_to_their_utc_day() -> None:
    sim = Sim("2026-12-31T23:59:30Z")
    sim.run(60, typed=True)
    sim.stop()
    assert [(s.start, s.tracked_s) for s in sim.slots] == [
        (since("2026-12-31T23:59:00Z"), 30),
        (since("2027-01-01T00:00:00Z"), 30),
    ]


def test_dst_changes_nothing_because_slots_are_utc() -> None:
    # 2026-03-08 07:00Z is when New York jumps from 02:00 EST to 03:00 EDT.
    sim = Sim("2026-03-08T06:58:00Z")
    sim.run(240, typed=True)
    sim.stop()
    starts = [s.start for s in sim.slots]
    assert [s.tracked_s for s in sim.slots] == [60, 60, 60, 60]
    assert [b - a for a, b in itertools.pairwise(starts)] == [starts[1] - starts[0]] * 3
    local = [s.astimezone(ZoneInfo("America/New_York")).strftime("%H:%M") for s in starts]
    assert local == ["01:58", "01:59", "03:00", "03:01"]


def test_idle_before_the_agent_started_is_backdated_but_untracked() -> None:
    sim = Sim("2026-05-04T10:00:00Z", threshold=300, last_input=at("2026-05-04T09:50:00Z"))
    assert sim.changes[0].state is WorkState.IDLE
    assert sim.changes[0].since == since("2026-05-04T09:50:00Z")
    sim.run(60)
    assert sim.slot("2026-05-04T10:00:00Z").idle_s == 60


def test_counts_go_to_the_minute_they_arrived_in() -> None:
    sim = Sim("2026-05-04T10:00:50Z")
    sim.step(5, keys=3)
    sim.step(10, keys=4)
    sim.stop()
    assert sim.slot("2026-05-04T10:00:00Z").keys == 3
    assert sim.slot("2026-05-04T10:01:00Z").keys == 4


def test_slots_come_out_only_once_final() -> None:
    sim = Sim("2026-05-04T10:00:00Z", threshold=120)
    sim.run(70, typed=True)
    assert [s.start for s in sim.slots] == [since("2026-05-04T10:00:00Z")]
    sim.run(119)
    assert len(sim.slots) == 1  # 10:01 may still become active if input comes within the threshold
    sim.step()  # idle since 10:01:10 is now certain, so 10:01 and 10:02 are final
    assert len(sim.slots) == 3
    for slot, emitted in zip(sim.slots, sim.emitted_at, strict=True):
        assert slot.start.timestamp() + 60 <= emitted


def test_shutdown_closes_the_open_minute_and_a_restart_cannot_reuse_it() -> None:
    from agent.clock import Timeline
    from agent.states import Tracker

    sim = Sim("2026-05-04T10:00:00Z")
    sim.run(20, typed=True)
    sim.stop()
    assert sim.tracker.cursor == at("2026-05-04T10:01:00Z")
    restored = Tracker.restore(sim.tracker.checkpoint(), idle_threshold=300)
    timeline = Timeline(floor=restored.cursor, sleep_gap=15)
    assert timeline.advance(1.0, since("2026-05-04T10:00:40Z")) is None
    advance = timeline.advance(2.0, since("2026-05-04T10:01:00Z"))
    assert advance is not None
    assert advance.wall == restored.cursor


def test_input_that_ends_a_sleep_makes_the_person_active_again_at_once() -> None:
    sim = Sim("2026-05-04T10:00:00Z")
    sim.run(10, typed=True)
    sim.step(600, typed=True)  # the key press that woke the machine
    assert sim.state is WorkState.ACTIVE
    assert [c.state for c in sim.changes] == [WorkState.ACTIVE, WorkState.AWAY, WorkState.ACTIVE]
    sim.run(5)
    sim.stop()
    assert sim.total("tracked_s") == 15


def pause(sim: Sim, on: bool) -> None:
    sim._record(sim.tracker.set_pause(on))


def test_a_pause_counts_and_classifies_nothing_and_the_team_sees_paused() -> None:
    sim = Sim("2026-05-04T10:00:00Z", threshold=300)
    for _ in range(30):
        sim.step(typed=True, keys=2)
    pause(sim, True)
    assert sim.state is WorkState.AWAY and sim.tracker.paused
    assert (sim.changes[-1].state, sim.changes[-1].paused) == (WorkState.AWAY, True)
    assert sim.changes[-1].reported == "paused", "the team tells a pause from a locked screen"
    assert sim.changes[-1].since == since("2026-05-04T10:00:30Z")
    for _ in range(400):  # typing while paused: neither counted nor classified, and no idle either
        sim.step(typed=True, keys=5)
    assert sim.state is WorkState.AWAY
    sim.set_break(True)  # a break needs tracking: ignored until the pause ends
    assert sim.state is WorkState.AWAY
    pause(sim, False)
    assert (sim.changes[-1].state, sim.changes[-1].paused, sim.changes[-1].reported) == (WorkState.ACTIVE, False,
                                                                                       "active")
    assert sim.changes[-1].since == since("2026-05-04T10:07:10Z")
    for _ in range(20):
        sim.step(typed=True, keys=1)
    sim.stop()
    assert (sim.total("active_s"), sim.total("idle_s"), sim.total("break_s")) == (50, 0, 0)
    assert sim.total("tracked_s") == 50 and sim.total("keys") == 30 * 2 + 20
    assert [s.start.minute for s in sim.slots] == [0, 7]  # the paused minutes are not there at all


def test_a_pause_ends_a_break_and_a_restart_is_never_paused() -> None:
    sim = Sim("2026-05-04T10:00:00Z", threshold=300)
    sim.run(10, typed=True)
    sim.set_break(True)
    sim.run(20)
    pause(sim, True)
    sim.run(30)
    assert [c.state for c in sim.changes[-2:]] == [WorkState.BREAK, WorkState.AWAY]
    restored = Tracker.restore(sim.tracker.checkpoint(), idle_threshold=300)
    assert not restored.paused and restored.state is WorkState.AWAY  # away, like after a lock: input resumes
    sim.stop()
    assert (sim.total("active_s"), sim.total("break_s"), sim.total("tracked_s")) == (10, 20, 30)


def test_a_stuck_key_or_spinning_wheel_is_clamped_to_the_protocol_bound_so_the_minute_is_never_refused() -> None:
    sim = Sim("2026-05-04T10:00:00Z")
    for _ in range(60):  # a key held down under X11's fastest repeat (255/s) for the whole minute
        sim.step(1, keys=255)
    sim.stop()
    assert sim.slot("2026-05-04T10:00:00Z").keys == MAX_KEYS_PER_MINUTE
    minute = int(at("2026-05-04T10:00:00Z"))
    book = SlotBook()
    book.add_seconds(minute, minute + 60, Kind.ACTIVE)
    book.add_counts(minute, InputCounts(**{name: limit + 1 for name, limit in COUNT_LIMITS.items()}))
    (slot,) = book.close_before(minute + 60)
    assert {name: getattr(slot, name) for name in COUNT_LIMITS} == COUNT_LIMITS
