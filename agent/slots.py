"""Per-minute tallies: seconds by kind and input counts, closed into ``protocol.schema.Slot`` once final.

A minute is handed out only when the caller says no later event can change it, and it is removed from the book
at that moment, so a slot is produced once and never revised.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, astuple, dataclass, fields
from datetime import UTC, datetime

from agent.errors import CheckpointUnreadable
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
    """One open minute; the fields are named as in ``Slot`` (and so in the checkpoint)."""

    active_s: int = 0
    idle_s: int = 0
    break_s: int = 0
    input_s: int = 0
    keys: int = 0
    clicks: int = 0
    scrolls: int = 0
    mouse_px: int = 0

    @classmethod
    def named(cls, values: dict[str, int]) -> _Tally:
        """From ``asdict`` output, refusing a missing or unknown name rather than guessing it."""
        expected = {field.name for field in fields(cls)}
        if set(values) != expected:
            raise CheckpointUnreadable(f"an open minute has the fields {sorted(values)}, not {sorted(expected)}")
        return cls(**values)

    @classmethod
    def of(cls, slot: Slot) -> _Tally:
        """A written minute taken back to continue it (``SlotBook.reopen``)."""
        return cls(**{field.name: getattr(slot, field.name) for field in fields(cls)})

    def slot(self, start: int) -> Slot:
        """The minute as the protocol carries it, each count clamped to its per-minute bound: a stuck key
        repeating at a fast rate, or a free-spinning wheel, must not make the server refuse the whole batch."""
        return Slot(
            start=datetime.fromtimestamp(start, UTC),
            tracked_s=self.active_s + self.idle_s + self.break_s,
            active_s=self.active_s,
            idle_s=self.idle_s,
            break_s=self.break_s,
            input_s=self.input_s,
            keys=min(self.keys, MAX_KEYS_PER_MINUTE),
            clicks=min(self.clicks, MAX_CLICKS_PER_MINUTE),
            scrolls=min(self.scrolls, MAX_SCROLLS_PER_MINUTE),
            mouse_px=min(self.mouse_px, MAX_MOUSE_PX_PER_MINUTE),
        )


def minute_of(second: int) -> int:
    return second - second % SLOT_SECONDS


class SlotBook:
    """Open minutes, keyed by their UTC start in epoch seconds."""

    def __init__(self, open_minutes: dict[int, dict[str, int]] | None = None) -> None:
        """``open_minutes`` as ``open_minutes()`` returned them (from a checkpoint)."""
        self._open = {start: _Tally.named(values) for start, values in (open_minutes or {}).items()}

    def _tally(self, second: int) -> _Tally:
        return self._open.setdefault(minute_of(second), _Tally())

    def add_seconds(self, start: int, end: int, kind: Kind) -> None:
        """Count every second in ``[start, end)`` as ``kind``; the caller never counts a second twice."""
        while start < end:
            piece = min(end, minute_of(start) + SLOT_SECONDS) - start
            tally = self._tally(start)
            if kind is Kind.ACTIVE:
                tally.active_s += piece
            elif kind is Kind.IDLE:
                tally.idle_s += piece
            else:
                tally.break_s += piece
            start += piece

    def add_input_second(self, second: int) -> None:
        self._tally(second).input_s += 1

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

    def reopen(self, slot: Slot) -> None:
        """Continue a minute that was written but not sent (a restart within the minute of a clean stop)."""
        self._open[int(slot.start.timestamp())] = _Tally.of(slot)

    def open_minutes(self) -> dict[int, dict[str, int]]:
        """The open tallies by field name, for the crash-safe checkpoint (``agent.checkpoint``)."""
        return {start: asdict(tally) for start, tally in self._open.items()}
