"""A deterministic harness for the pure core: an injected clock driving Timeline and Tracker step by step."""

from __future__ import annotations

from datetime import UTC, datetime

from agent.clock import Timeline
from agent.slots import InputCounts
from agent.states import PresenceChange, Sample, Step, Tracker, WorkState
from protocol.schema import Slot


def at(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class Sim:
    """Moves a fake monotonic clock and a fake wall clock; records every slot and change the core produces.

    ``emitted_at`` remembers the timeline second at which each slot came out, to check it was final then.
    """

    def __init__(
        self,
        start: str = "2026-05-04T10:00:00Z",
        *,
        threshold: int = 300,
        sleep_gap: float = 15.0,
        last_input: float | None = None,
    ) -> None:
        self.mono = 5000.0
        self.wall = at(start)
        self.timeline = Timeline(floor=None, sleep_gap=sleep_gap)
        self.slots: list[Slot] = []
        self.changes: list[PresenceChange] = []
        self.emitted_at: list[int] = []
        first = self.timeline.advance(self.mono, self._now())
        assert first is not None
        self.last_input = first.wall if last_input is None else round(last_input)
        self.tracker = Tracker.start(idle_threshold=threshold, wall=first.wall, last_input=self.last_input)
        self._record(self.tracker.tick(Sample(first)))

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.wall, UTC)

    def _record(self, step: Step) -> None:
        self.slots.extend(step.slots)
        self.changes.extend(step.changes)
        self.emitted_at.extend(self.tracker.cursor for _ in step.slots)

    def step(
        self, seconds: float = 1, *, typed: bool = False, locked: bool = False, keys: int = 0, wall_shift: float = 0.0
    ) -> None:
        """Let ``seconds`` pass on both clocks (plus ``wall_shift`` on the wall clock only), then sample."""
        self.mono += seconds
        self.wall += seconds + wall_shift
        advance = self.timeline.advance(self.mono, self._now())
        assert advance is not None
        seen = typed or keys > 0
        if seen:
            self.last_input = advance.wall
        sample = Sample(advance, seen, self.last_input, locked, InputCounts(keys=keys))
        self._record(self.tracker.tick(sample))

    def run(self, seconds: int, *, typed: bool = False, locked: bool = False) -> None:
        for _ in range(seconds):
            self.step(1, typed=typed, locked=locked)

    def set_break(self, on: bool) -> None:
        self._record(self.tracker.set_break(on))

    def stop(self) -> None:
        self._record(self.tracker.shutdown())

    @property
    def state(self) -> WorkState:
        return self.tracker.state

    def slot(self, start: str) -> Slot:
        (found,) = [s for s in self.slots if s.start.timestamp() == at(start)]
        return found

    def total(self, field: str) -> int:
        return sum(getattr(s, field) for s in self.slots)
