"""The work-state machine: turns samples into classified seconds and presence changes. Pure: no threads, no I/O.

States: ``active``; ``idle`` once no input arrived for the idle threshold, *backdated* to the last input (as
ActivityWatch does), so the seconds since that input are idle, not active; ``break`` from the user's start to
end; ``away`` while the screen is locked or after the machine slept, until input arrives again. Away time is
not tracked at all. A *pause* (when the team's policy allows one) is away by the person's choice: nothing is
counted or classified until they resume, and the team sees ``paused`` (not ``away``: a locked screen says
nothing of a choice, and the team should be able to tell the two apart). A pause is deliberately not part of the
checkpoint: a restarted agent must never stay paused without the person knowing. Seconds after the last
input stay undecided until the next input or the threshold decides them, which is why a minute closes only
once every one of its seconds is decided.

Activity marks (input, break start and end) separate quiet spells; a spell shorter than the threshold is active.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime

from agent import checkpoint
from agent.clock import Advance
from agent.errors import CheckpointUnreadable
from agent.slots import InputCounts, Kind, SlotBook, minute_of
from protocol.schema import SLOT_SECONDS, ReportedState, Slot


class WorkState(enum.StrEnum):
    ACTIVE = "active"
    IDLE = "idle"
    BREAK = "break"
    AWAY = "away"


@dataclass(frozen=True)
class PresenceChange:
    """A new state, the UTC time it began (earlier than now for a backdated idle) and an ever-growing ``seq``.

    ``paused``: this ``away`` is a pause the person chose; it is reported as ``paused`` (``reported``).
    """

    state: WorkState
    since: datetime
    seq: int
    paused: bool = False

    @property
    def reported(self) -> ReportedState:
        """The state as the server and the team see it: a pause is ``paused``, not the ``away`` it is counted as."""
        return "paused" if self.paused else self.state.value


@dataclass(frozen=True)
class Sample:
    """What the runner saw over one step of the timeline.

    ``input_seen``: input arrived during the step. ``last_input``: the UTC second of the latest input the OS
    knows of, used to place it, to tell whether someone came back during a gap, and at start to backdate an
    idle period begun before the agent ran.
    """

    advance: Advance
    input_seen: bool = False
    last_input: int | None = None
    locked: bool = False
    counts: InputCounts = field(default_factory=InputCounts)


@dataclass(frozen=True)
class Step:
    slots: list[Slot] = field(default_factory=list)
    changes: list[PresenceChange] = field(default_factory=list)


class Tracker:
    """Classifies every second up to the timeline's cursor into the slot book, exactly once.

    ``_cursor`` is how far time has advanced; ``_decided`` how far seconds are classified (the rest are the
    undecided quiet spell since ``_mark``, the last activity mark).
    """

    def __init__(
        self,
        *,
        idle_threshold: int,
        cursor: int,
        decided: int,
        mark: int,
        state: WorkState,
        seq: int,
        book: SlotBook,
        stopped: int | None = None,
    ) -> None:
        self.idle_threshold = idle_threshold
        self._cursor = cursor
        self._decided = decided
        self._mark = mark
        self._state = state
        self._seq = seq
        self._book = book
        self._stopped = stopped
        self._changes: list[PresenceChange] = []
        self._carry = InputCounts()
        self._carry_seen = False
        self._paused = False

    @classmethod
    def start(cls, *, idle_threshold: int, wall: int, last_input: int | None) -> Tracker:
        """A first run: active from now, or idle since the last input if that is already a threshold ago."""
        mark = wall if last_input is None else min(last_input, wall)
        tracker = cls(
            idle_threshold=idle_threshold,
            cursor=wall,
            decided=wall,
            mark=mark,
            state=WorkState.ACTIVE,
            seq=0,
            book=SlotBook(),
        )
        if wall - mark >= idle_threshold:
            tracker._set_state(WorkState.IDLE, mark)
        else:
            tracker._set_state(WorkState.ACTIVE, wall)
        return tracker

    @classmethod
    def restore(cls, saved: str, *, idle_threshold: int) -> Tracker:
        """Resume from ``checkpoint()`` output; the caller's timeline must start at ``cursor``. Raises
        ``CheckpointUnreadable`` for a checkpoint of an unknown version or a malformed one."""
        data = checkpoint.decode(saved)
        try:
            return cls(
                idle_threshold=idle_threshold,
                cursor=int(data["cursor"]),
                decided=int(data["decided"]),
                mark=int(data["mark"]),
                state=WorkState(data["state"]),
                seq=int(data["seq"]),
                book=SlotBook({int(start): values for start, values in data["open"].items()}),
                stopped=None if data["stopped"] is None else int(data["stopped"]),
            )
        except (TypeError, ValueError) as error:
            raise CheckpointUnreadable(f"a malformed value ({error})") from None

    def checkpoint(self) -> str:
        """Everything a restart needs to carry on without losing or repeating a second."""
        return checkpoint.encode({
            "cursor": self._cursor,
            "decided": self._decided,
            "mark": self._mark,
            "state": self._state.value,
            "seq": self._seq,
            "stopped": self._stopped,
            "open": self._book.open_minutes(),
        })

    @property
    def cursor(self) -> int:
        return self._cursor

    @property
    def state(self) -> WorkState:
        return self._state

    @property
    def decided(self) -> int:
        """Every second before this one is classified (and the minutes before its minute are closed)."""
        return self._decided

    @property
    def paused(self) -> bool:
        return self._paused

    def stopped_minute(self) -> int | None:
        """The minute a clean stop wrote before its end (the minute the stop fell in), while nothing has been
        tracked since: a restart still inside it can take it back and continue it (``reopen``)."""
        if self._stopped is None or minute_of(self._stopped) >= self._cursor:
            return None
        return minute_of(self._stopped)

    def reopen(self, slot: Slot) -> None:
        """Continue ``slot``, the ``stopped_minute`` taken back from the outbox unsent, from the stop's second:
        the seconds between the stop and now become a gap (untracked), as after any restart."""
        if self._stopped is None or int(slot.start.timestamp()) != minute_of(self._stopped):
            raise ValueError(f"{slot.start.isoformat()} is not the minute this tracker stopped in")
        self._book.reopen(slot)
        self._cursor = self._decided = self._mark = self._stopped
        self._stopped = None

    def tick(self, sample: Sample) -> Step:
        """Advance to ``sample.advance.wall``, classifying what can be decided; return newly final slots."""
        wall, gap_from = sample.advance.wall, sample.advance.gap_from
        seen = self._carry_seen or sample.input_seen
        counts = self._carry + sample.counts
        if wall <= self._cursor:  # no whole second passed: keep the input for the next step
            self._carry, self._carry_seen = counts, seen
            return self._step()
        self._carry, self._carry_seen, self._stopped = InputCounts(), False, None
        if self._paused:  # nothing is counted or classified; the time passes untracked
            self._cursor = self._decided = wall
            return self._step()
        self._book.add_counts(wall - 1, counts)
        start = self._cursor
        if gap_from is not None and gap_from < wall:
            start = max(gap_from, start)
            self._advance(start)
            self._go_away(start)
            self._cursor = self._decided = wall  # the gap itself is never tracked
            # Input after the gap began (the key that woke the machine) means someone is back.
            seen = seen or (sample.last_input is not None and sample.last_input > start)
            start = wall
        if sample.locked:
            self._go_away(start)
        elif seen and self._state is not WorkState.BREAK:
            if self._state is WorkState.AWAY:
                self._mark = start
                self._set_state(WorkState.ACTIVE, start)
            placed = wall if sample.last_input is None else sample.last_input
            self._input(start, min(max(placed, start + 1), wall))
        self._advance(wall)
        return self._step()

    def set_break(self, on: bool) -> Step:
        """The user declared a break start (``on``) or end, taking effect now (at the cursor). Ignored while
        paused: a break is tracked time, a pause is not, and only resuming ends a pause."""
        now = self._cursor
        if self._paused:
            return self._step()
        if on and self._state is not WorkState.BREAK:
            self._settle_active(now)
            self._set_state(WorkState.BREAK, now)
        elif not on and self._state is WorkState.BREAK:
            self._mark = now
            self._set_state(WorkState.ACTIVE, now)
        return self._step()

    def set_pause(self, on: bool) -> Step:
        """Pause (``on``) or resume tracking now (at the cursor). A pause ends a break; resuming is active."""
        now = self._cursor
        if on and not self._paused:
            self._settle_active(now)
            self._paused = True
            self._set_state(WorkState.AWAY, now)
        elif not on and self._paused:
            self._paused = False
            self._mark = self._decided = now
            self._set_state(WorkState.ACTIVE, now)
        return self._step()

    def shutdown(self) -> Step:
        """Stop: settle the open spell, close every minute including the current one, move past it.

        The cursor moves to the next minute boundary so a restart cannot add seconds to a minute already sent;
        a restart inside that minute may take it back while it is still unsent (``stopped_minute``).
        """
        carry, seen = self._carry, self._carry_seen and not self._paused  # from a last sample under a second
        self._carry, self._carry_seen = InputCounts(), False
        carried = bool(carry) and not self._paused
        if seen and self._state in (WorkState.ACTIVE, WorkState.IDLE):
            self._input(self._cursor, self._cursor + 1)  # someone was at it in that last second: it is active
            self._book.add_counts(self._cursor - 1, carry)
            carried = False
        self._go_away(self._cursor)
        if carried:  # on a break or away: the counts stay, in a second not tracked
            self._book.add_counts(self._cursor, carry)
        end = minute_of(self._cursor + (SLOT_SECONDS if carried else SLOT_SECONDS - 1))
        self._stopped, self._cursor, self._decided = self._cursor, end, end
        return Step(self._book.close_before(end), self._drain())

    def _step(self) -> Step:
        return Step(self._book.close_before(self._decided), self._drain())

    def _drain(self) -> list[PresenceChange]:
        changes, self._changes = self._changes, []
        return changes

    def _set_state(self, state: WorkState, since: int) -> None:
        self._state = state
        self._seq += 1
        self._changes.append(PresenceChange(state, datetime.fromtimestamp(since, UTC), self._seq, self._paused))

    def _advance(self, to: int) -> None:
        """Let time pass to ``to`` in the current state."""
        if to <= self._cursor:
            return
        self._cursor = to
        if self._state is WorkState.BREAK:
            self._book.add_seconds(self._decided, to, Kind.BREAK)
            self._decided = to
        elif self._state is WorkState.AWAY:
            self._decided = to
        elif to - self._mark >= self.idle_threshold:
            self._book.add_seconds(self._decided, to, Kind.IDLE)
            self._decided = to
            if self._state is not WorkState.IDLE:
                self._set_state(WorkState.IDLE, self._mark)

    def _input(self, start: int, at: int) -> None:
        """Input arrived during ``[start, at]``: the spell before it is decided, the second before ``at`` had input."""
        if self._state is WorkState.IDLE:
            self._set_state(WorkState.ACTIVE, start)
        self._book.add_seconds(self._decided, at, Kind.ACTIVE)
        if at > start:
            self._book.add_input_second(at - 1)
        self._cursor = max(self._cursor, at)
        self._decided = self._mark = at

    def _settle_active(self, now: int) -> None:
        """An open quiet spell shorter than the threshold ends in a non-input event: it was active."""
        if self._state is WorkState.ACTIVE:
            self._book.add_seconds(self._decided, now, Kind.ACTIVE)
            self._decided = now

    def _go_away(self, at: int) -> None:
        """Lock, sleep or stop at ``at``; a declared break outlasts them all."""
        if self._state in (WorkState.BREAK, WorkState.AWAY):
            return
        self._settle_active(at)
        self._set_state(WorkState.AWAY, at)
