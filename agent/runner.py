"""The sampler: once a step it reads input totals, the OS idle time and lock state, feeds the tracker and
commits what it produced to the outbox *before* telling anyone, so a reported change is never lost or reissued
with the same ``seq`` after a crash. It owns no thread: ``run`` loops on the caller's thread until told to stop.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

from agent.clock import Clock, Timeline
from agent.idle import IdleBackend
from agent.outbox import Outbox
from agent.slots import InputCounts
from agent.states import PresenceChange, Sample, Step, Tracker

log = logging.getLogger(__name__)


class Runner:
    def __init__(
        self,
        *,
        outbox: Outbox,
        clock: Clock,
        counts: Callable[[], InputCounts],
        idle: IdleBackend,
        idle_threshold: int = 300,
        sleep_gap: float = 15.0,
        checkpoint_every: float = 15.0,
        on_change: Callable[[PresenceChange], None] | None = None,
    ) -> None:
        """``counts`` returns input totals since start; ``on_change`` receives presence changes (any thread-safe
        hand-off, e.g. ``queue.put``). ``checkpoint_every`` bounds what a kill -9 can lose of the open minute."""
        self._outbox = outbox
        self._clock = clock
        self._counts = counts
        self._idle = idle
        self._idle_threshold = idle_threshold
        self._checkpoint_every = checkpoint_every
        self._on_change = on_change
        self._tracker = self._restore(outbox.checkpoint(), idle_threshold)
        self._timeline = Timeline(floor=None if self._tracker is None else self._tracker.cursor, sleep_gap=sleep_gap)
        self._totals = InputCounts()
        self._mono: float | None = None
        self._saved_at = clock.monotonic()
        self._breaks: queue.SimpleQueue[bool] = queue.SimpleQueue()

    @staticmethod
    def _restore(saved: str | None, idle_threshold: int) -> Tracker | None:
        """The tracker as last checkpointed; an unreadable checkpoint costs the open minute, not the agent."""
        if saved is None:
            return None
        try:
            return Tracker.restore(saved, idle_threshold=idle_threshold)
        except (KeyError, ValueError, TypeError) as error:
            log.warning("ignoring an unreadable tracker checkpoint (%s: %s); starting afresh",
                        type(error).__name__, error)
            return None

    def request_break(self, on: bool) -> None:
        """Start (``on``) or end a declared break at the next sample; safe from any thread."""
        self._breaks.put(on)

    def run(self, stop: threading.Event, every: float) -> None:
        """Sample every ``every`` seconds of real time until ``stop`` is set, then flush and settle."""
        try:
            while not stop.wait(every):
                self.sample()
        finally:
            self.close()

    def sample(self) -> None:
        mono = self._clock.monotonic()
        advance = self._timeline.advance(mono, self._clock.now())
        if advance is None:
            return  # a previous run already wrote this minute; wait for the next one
        totals = self._counts()
        counts, self._totals = totals - self._totals, totals
        idle = self._idle.idle_seconds()
        seen = bool(counts) or (self._mono is not None and idle < mono - self._mono)
        self._mono = mono
        last_input = advance.wall - round(idle)
        if self._tracker is None:
            self._tracker = Tracker.start(idle_threshold=self._idle_threshold, wall=advance.wall, last_input=last_input)
        tracker = self._tracker
        steps = [tracker.tick(Sample(advance, seen, last_input, self._idle.locked(), counts))]
        while not self._breaks.empty():
            steps.append(tracker.set_break(self._breaks.get_nowait()))
        self._save(tracker, steps, force=mono - self._saved_at >= self._checkpoint_every)

    def close(self) -> None:
        """Settle the open period and write every minute, including the current one."""
        if self._tracker is not None:
            self._save(self._tracker, [self._tracker.shutdown()], force=True)

    def _save(self, tracker: Tracker, steps: list[Step], *, force: bool) -> None:
        slots = [slot for step in steps for slot in step.slots]
        changes = [change for step in steps for change in step.changes]
        if slots or changes or force:
            self._outbox.commit(slots, tracker.checkpoint())
            self._saved_at = self._clock.monotonic()
        for change in changes:
            log.info("state %s since %s (seq %d)", change.state, change.since.isoformat(), change.seq)
            if self._on_change is not None:
                self._on_change(change)
