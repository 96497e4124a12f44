"""Time as the agent sees it: an injectable clock, and a timeline that places monotonic time on UTC seconds.

Elapsed time comes from a monotonic clock, so a wall-clock step (NTP, a manual change; DST never touches UTC)
can neither invent nor lose tracked time. The wall clock only decides *where* on the UTC axis time lands, and
the timeline never runs backwards: a minute already written can never receive more seconds.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

log = logging.getLogger(__name__)


class Clock(Protocol):
    def now(self) -> datetime:
        """The current UTC time (timezone-aware)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never steps; only differences mean anything."""
        ...


# A monotonic clock that keeps counting while the machine sleeps, so a suspend shows up as a gap. Where only a
# clock that stops during sleep exists, the wall clock jumping ahead still reveals the sleep.
if sys.platform == "linux":

    def _suspend_counting_monotonic() -> float:
        return time.clock_gettime(time.CLOCK_BOOTTIME)

elif sys.platform == "darwin":

    def _suspend_counting_monotonic() -> float:
        return time.clock_gettime(time.CLOCK_MONOTONIC)  # on macOS this one includes sleep

else:
    _suspend_counting_monotonic = time.monotonic


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return _suspend_counting_monotonic()


#: Fixed origin for ``ScaledClock`` so separate agent processes (a test restarting one) share one timeline.
_SCALE_ORIGIN = 1_767_225_600.0  # 2026-01-01T00:00:00Z


class ScaledClock:
    """Real time sped up ``scale`` times, for tests that need many minutes in a few seconds."""

    def __init__(self, scale: float) -> None:
        self.scale = scale

    def now(self) -> datetime:
        return datetime.fromtimestamp(_SCALE_ORIGIN + (time.time() - _SCALE_ORIGIN) * self.scale, UTC)

    def monotonic(self) -> float:
        return time.monotonic() * self.scale


def _second(timestamp: float) -> int:
    """The UTC second a timestamp falls in (floor, so equal steps always give equal differences)."""
    return math.floor(timestamp)


@dataclass(frozen=True)
class Advance:
    """One step of the timeline: it now stands at UTC second ``wall``.

    ``gap_from`` set means the seconds from ``gap_from`` to ``wall`` were not tracked (the machine slept, the
    wall clock stepped forward, or the agent was not running); the seconds before it were.
    """

    wall: int
    gap_from: int | None = None


class Timeline:
    """Maps monotonic readings onto integer UTC seconds without ever going backwards.

    Each step adds the monotonic time elapsed since the previous one. A monotonic gap larger than
    ``sleep_gap`` is a sleep: untracked, and the timeline rejoins the wall clock. A forward wall-clock step is
    treated the same way. A backward step is ignored (it would land time on minutes already written), so the
    timeline stays ahead until the next gap lets it rejoin. ``floor`` is where a previous run stopped: nothing
    is placed before it, and a restart that finds the wall clock still behind it waits.
    """

    def __init__(self, *, floor: int | None, sleep_gap: float, step_tolerance: float = 2.0) -> None:
        self._floor = floor
        self._sleep_gap = sleep_gap
        self._tolerance = step_tolerance
        self._mono = 0.0
        self._wall: float | None = None
        self._behind = False

    def advance(self, mono: float, now: datetime) -> Advance | None:
        """Move to monotonic time ``mono`` with the wall clock reading ``now``; None while waiting for the floor."""
        actual = now.timestamp()
        if self._wall is None:
            if self._floor is not None and actual < self._floor:
                return None
            self._mono, self._wall = mono, actual
            return Advance(_second(actual), self._floor if self._floor is not None else _second(actual))
        elapsed = mono - self._mono
        mapped = self._wall + elapsed
        previous = _second(self._wall)
        self._mono = mono
        if elapsed < 0 or elapsed > self._sleep_gap:
            log.info("no sample for %.0f s: treating it as sleep, not tracked", elapsed)
            self._wall = max(actual, self._wall + 1)  # at least one untracked second marks the gap
            return Advance(_second(self._wall), previous)
        if actual - mapped > self._tolerance:
            log.warning("wall clock stepped forward %.0f s; the skipped time is not tracked", actual - mapped)
            self._wall = actual
            return Advance(_second(actual), _second(mapped))
        self._wall = mapped
        behind = mapped - actual > self._tolerance
        if behind and not self._behind:
            log.warning("wall clock stepped back %.0f s; keeping the monotonic timeline", mapped - actual)
        self._behind = behind
        return Advance(_second(mapped))
