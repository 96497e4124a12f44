"""Property tests of the core: whatever the input, clocks and gaps, the slots stay valid and exact."""

from __future__ import annotations

from dataclasses import dataclass

from agent_sim import Sim
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.schema import Slot

SLEEP_GAP = 15


@dataclass(frozen=True)
class Op:
    seconds: int
    typed: bool
    keys: int
    locked: bool
    wall_back: int
    toggle_break: bool


ops = st.builds(
    Op,
    seconds=st.one_of(st.integers(0, 20), st.integers(SLEEP_GAP + 1, 20_000)),
    typed=st.booleans(),
    keys=st.integers(0, 5),
    locked=st.booleans() | st.just(False),
    wall_back=st.sampled_from([0, 0, 0, 0, 3, 61, 3600]),
    toggle_break=st.booleans() | st.just(False) | st.just(False),
)


def expected_tracked(steps: list[Op]) -> int:
    """Tracked time as the rules define it: monotonic time minus sleep gaps, minus time spent away."""
    tracked, away, on_break, carried = 0, False, False, False
    for op in steps:
        seen = op.typed or op.keys > 0 or carried
        carried = False
        if op.seconds == 0:
            carried = seen  # nothing elapsed; the sample's input is carried to the next one
        elif op.seconds > SLEEP_GAP:
            away = away or not on_break
            if seen and not op.locked and not on_break:
                away = False
        elif op.locked and not on_break:
            away = True
        elif on_break or not away or seen:
            tracked += op.seconds
            away = False
        if op.toggle_break:
            away, on_break = (False, True) if not on_break else (away, False)
    if carried and not away and not on_break:
        tracked += 1  # input in the stop's last, partial second makes it an active second
    return tracked


@settings(max_examples=300, deadline=None)
@given(steps=st.lists(ops, max_size=60), threshold=st.integers(1, 400), start_fraction=st.floats(0, 0.99))
def test_slots_are_valid_unique_final_and_account_for_every_tracked_second(
    steps: list[Op], threshold: int, start_fraction: float
) -> None:
    # A zero-length sample carries its input but not its lock state; keep locks on real steps.
    steps = [op if op.seconds else Op(0, op.typed, op.keys, False, 0, False) for op in steps]
    sim = Sim("2026-05-04T23:58:00Z", threshold=threshold, sleep_gap=SLEEP_GAP)
    sim.wall += start_fraction
    for op in steps:
        sim.step(op.seconds, typed=op.typed, keys=op.keys, locked=op.locked, wall_shift=-op.wall_back)
        if op.toggle_break:
            sim.set_break(sim.state != "break")
    sim.stop()

    for slot in sim.slots:
        Slot.model_validate(slot.model_dump())
        assert slot.start.second == 0
    starts = [slot.start for slot in sim.slots]
    assert starts == sorted(set(starts)), "a minute came out twice or out of order"
    for slot, emitted in zip(sim.slots, sim.emitted_at, strict=True):
        assert slot.start.timestamp() + 60 <= emitted, "a slot came out before every second in it was decided"
    assert sim.total("tracked_s") == expected_tracked(steps)
    assert sim.total("keys") == sum(op.keys for op in steps)
    seqs = [change.seq for change in sim.changes]
    assert seqs == list(range(1, len(seqs) + 1))
