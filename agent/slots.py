"""Per-minute tallies: seconds by kind and input counts, closed into ``protocol.schema.Slot`` once final.

A minute is handed out only when the caller says no later event can change it, and it is removed from the book
at that moment, so a slot is produced once and never revised.
"""

from __future__ import annotations

import enum
from dataclasses import astuple, dataclass
from datetime import UTC, datetime

from protocol.schema import (
    MAX_CLICKS_PER_MINUTE,
    MAX_KEYS_PER_MINUTE,
    MAX_MOUSE_PX_PER_MINUTE,
    MAX_SCROLLS_PER_MINUTE,
    SLOT_SECONDS,
    Slot,
)


@dataclass(frozen=True)
class InputCounts:
    """Input events over some span: only how many, never which key or where."""

    keys: int = 0
    clicks: int = 0
    scrolls: int = 0
    mouse_px: int = 0

    def __add__(self, other: InputCounts) -> InputCounts:
        return InputCounts(*(a + b for a, b in zip(astuple(self), astuple(other), strict=True)))

    def __sub__(self, other: InputCounts) -> InputCounts:
        return InputCounts(*(a - b for a, b in zip(astuple(self), astuple(other), strict=True)))

    def __bool__(self) -> bool:
        return any(astuple(self))


class Kind(enum.Enum):
    ACTIVE = 0
    IDLE = 1
    BREAK = 2


@dataclass
class _Tally:
    active: int = 0
    idle: int = 0
    brk: int = 0
    input: int = 0
    keys: int = 0
    clicks: int = 0
    scrolls: int = 0
    mouse_px: int = 0

    def slot(self, start: int) -> Slot:
        """The minute as the protocol carries it, each count clamped to its per-minute bound: a stuck key
        repeating at a fast rate, or a free-spinning wheel, must not make the server refuse the whole batch."""
        return Slot(
            start=datetime.fromtimestamp(start, UTC),
            tracked_s=self.active + self.idle + self.brk,
            active_s=self.active,
            idle_s=self.idle,
            break_s=self.brk,
            input_s=self.input,
            keys=min(self.keys, MAX_KEYS_PER_MINUTE),
            clicks=min(self.clicks, MAX_CLICKS_PER_MINUTE),
            scrolls=min(self.scrolls, MAX_SCROLLS_PER_MINUTE),
            mouse_px=min(self.mouse_px, MAX_MOUSE_PX_PER_MINUTE),
        )


def minute_of(second: int) -> int:
    return second - second % SLOT_SECONDS


class SlotBook:
    """Open minutes, keyed by their UTC start in epoch seconds."""

    def __init__(self, open_minutes: dict[int, list[int]] | None = None) -> None:
        self._open = {start: _Tally(*values) for start, values in (open_minutes or {}).items()}

    def _tally(self, second: int) -> _Tally:
        return self._open.setdefault(minute_of(second), _Tally())

    def add_seconds(self, start: int, end: int, kind: Kind) -> None:
        """Count every second in ``[start, end)`` as ``kind``; the caller never counts a second twice."""
        while start < end:
            piece = min(end, minute_of(start) + SLOT_SECONDS) - start
            tally = self._tally(start)
            if kind is Kind.ACTIVE:
                tally.active += piece
            elif kind is Kind.IDLE:
                tally.idle += piece
            else:
                tally.brk += piece
            start += piece

    def add_input_second(self, second: int) -> None:
        self._tally(second).input += 1

    def add_counts(self, second: int, counts: InputCounts) -> None:
        if counts:
            tally = self._tally(second)
            tally.keys += counts.keys
            tally.clicks += counts.clicks
            tally.scrolls += counts.scrolls
            tally.mouse_px += counts.mouse_px

    def close_before(self, until: int) -> list[Slot]:
        """Remove and return, oldest first, every minute that ends at or before ``until``."""
        done = sorted(start for start in self._open if start + SLOT_SECONDS <= until)
        return [self._open.pop(start).slot(start) for start in done]

    def open_minutes(self) -> dict[int, list[int]]:
        """The open tallies in a JSON-friendly form, for the crash-safe checkpoint."""
        return {start: list(astuple(tally)) for start, tally in self._open.items()}
