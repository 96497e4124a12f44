"""``Runner``, the sampling loop: once a step it reads input totals, the OS idle time and lock state, feeds the
tracker and commits what it produced to the outbox *before* telling anyone, so a reported change is never lost
or reissued with the same ``seq`` after a crash. It owns no thread: ``run`` loops on the caller's thread until
told to stop. (``agent.assembly.Sampler`` is the whole sampling side built around one runner.)

With someone to ask (``ask_on_return``, the tray app; never headless) it also holds back idle time: from the
start of an idle spell until the person answered what it was (``agent.returning``), minutes with idle seconds
are written *held*. The answer is applied once the minute of the return is closed, so that minute's idle
seconds are covered too. No answer within ``ANSWER_WAIT_S``, a quit, or a restart after a crash release the
held minutes unchanged: idle time is never lost, only delayed.
"""

from __future__ import annotations

import copy
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from agent.clock import Clock, Timeline
from agent.errors import CheckpointUnreadable
from agent.idle import IdleBackend
from agent.outbox import Outbox
from agent.returning import ANSWER_WAIT_S, IdleAnswer, IdleReturn, rewrite
from agent.slots import InputCounts, minute_of
from agent.states import PresenceChange, Sample, Step, Tracker, WorkState
from protocol.defaults import IDLE_THRESHOLD_S
from protocol.schema import SLOT_SECONDS, Slot

log = logging.getLogger(__name__)

#: How often the open minutes are checkpointed when nothing else was written: the bound on what a kill -9 loses.
#: One checkpoint costs about 0.2 ms of CPU, 8 KiB and an fsync (``bench/checkpoint_cost.py``); every 5 s that
#: is 0.004 % of a core and 45 MiB written in an 8-hour day.
CHECKPOINT_EVERY_S = 5.0


@dataclass
class _Spell:
    """An idle spell whose minutes are held: ``until`` is set when the person came back and was asked."""

    since: datetime
    until: datetime | None = None
    deadline: float = 0.0  # monotonic: no answer by then releases the minutes unchanged
    answer: IdleAnswer | None = None


class Runner:
    """Samples, classifies and commits, one step at a time; ``run`` is the loop, ``close`` the last step."""

    def __init__(
        self,
        *,
        outbox: Outbox,
        clock: Clock,
        counts: Callable[[], InputCounts],
        idle: IdleBackend,
        idle_threshold: int = IDLE_THRESHOLD_S,
        sleep_gap: float = 15.0,
        checkpoint_every: float = CHECKPOINT_EVERY_S,
        on_change: Callable[[PresenceChange], None] | None = None,
        catch_up: Callable[[float], bool] | None = None,
    ) -> None:
        """``counts`` returns input totals since start; ``on_change`` receives presence changes (any thread-safe
        hand-off, e.g. ``queue.put``). ``checkpoint_every`` bounds what a kill -9 can lose of the open minute.
        ``catch_up(last_input)``, called at stop with the monotonic time of the OS's last input, waits until
        ``counts`` includes it (``InputCounter.catch_up``)."""
        self._outbox = outbox
        self._clock = clock
        self._counts = counts
        self._idle = idle
        self._idle_threshold = idle_threshold
        self._checkpoint_every = checkpoint_every
        self._on_change = on_change
        self._catch_up = catch_up
        self._tracker = self._restore(outbox.checkpoint(), idle_threshold)
        if self._tracker is not None:
            self._tracker = self._reopen_stopped_minute(self._tracker) or self._tracker
        self._timeline = Timeline(floor=None if self._tracker is None else self._tracker.cursor, sleep_gap=sleep_gap)
        self._totals = InputCounts()
        self._mono: float | None = None
        self._saved_at = clock.monotonic()
        self._requests: queue.SimpleQueue[Callable[[Tracker], Step]] = queue.SimpleQueue()
        self._answers: queue.SimpleQueue[IdleAnswer] = queue.SimpleQueue()
        self._ask: Callable[[IdleReturn], None] | None = None
        self._settled: Callable[[IdleAnswer | None], None] = lambda _answer: None
        self._spell: _Spell | None = None
        # What a failed outbox write (disk full, I/O error) left in memory; every save retries it first.
        self._unsaved: list[Slot] = []
        self._undelivered: list[PresenceChange] = []
        #: Why the outbox cannot be written right now (names the file), for status displays; None when fine.
        self.write_error: str | None = None
        try:
            released = outbox.settle_held()
        except sqlite3.OperationalError as error:  # a full or failing disk must not stop the agent from starting
            log.error("cannot release the held idle minutes in the outbox %s (%s): they wait for a later start",
                      outbox.path, error)
            released = 0
        if released:
            log.info("released %d held idle minutes unchanged (no answer before the last stop)", released)

    @staticmethod
    def _restore(saved: str | None, idle_threshold: int) -> Tracker | None:
        """The tracker as last checkpointed; an unreadable checkpoint costs the open minute, not the agent."""
        if saved is None:
            return None
        try:
            return Tracker.restore(saved, idle_threshold=idle_threshold)
        except CheckpointUnreadable as error:
            log.warning("ignoring an unreadable tracker checkpoint (%s); starting afresh: its open minutes are lost",
                        error)
            return None

    def _reopen_stopped_minute(self, tracker: Tracker) -> Tracker | None:
        """A restart inside the minute a clean stop wrote continues that minute while it is still unsent: the
        tracker that continues it, or None. Once it was taken for upload it is final: the rest of it is not
        tracked (the timeline waits for its end); so too when the outbox cannot be written (a full disk)."""
        minute = tracker.stopped_minute()
        if minute is None or self._clock.now().timestamp() >= tracker.cursor:
            return None

        # The checkpoint to store is built on a copy: the tracker changes only once the outbox committed.
        continued = copy.deepcopy(tracker)

        def resume(slot: Slot) -> str:
            continued.reopen(slot)
            return continued.checkpoint()

        try:
            reopened = self._outbox.reopen(minute, resume)
        except sqlite3.OperationalError as error:  # a full or failing disk: start anyway, as after any restart
            log.error("cannot take back the minute of %s from the outbox %s (%s): the rest of it is not tracked",
                      datetime.fromtimestamp(minute, UTC).isoformat(), self._outbox.path, error)
            return None
        if not reopened:
            return None
        log.info("continuing the minute of %s, written at the last stop and not sent yet",
                 datetime.fromtimestamp(minute, UTC).isoformat())
        return continued

    def request_break(self, on: bool) -> None:
        """Start (``on``) or end a declared break at the next sample; safe from any thread."""
        self._requests.put(lambda tracker: tracker.set_break(on))

    def request_pause(self, on: bool) -> None:
        """Pause (``on``) or resume tracking at the next sample; safe from any thread. Whether a pause is
        allowed is the team's policy, checked by the caller (``sync.service``)."""
        self._requests.put(lambda tracker: tracker.set_pause(on))

    def request_idle_threshold(self, seconds: int) -> None:
        """Use a new idle threshold from the next sample on (the team's policy, read while running); safe from
        any thread. A quiet spell in progress is judged by the new one: idle since its last input once that is
        ``seconds`` ago."""
        def apply(tracker: Tracker) -> Step:
            if seconds != self._idle_threshold:
                log.info("idle threshold now %d s (was %d s)", seconds, self._idle_threshold)
            self._idle_threshold = tracker.idle_threshold = seconds
            return Step()

        self._requests.put(apply)

    @property
    def idle_threshold(self) -> int:
        """The idle threshold in force (a request takes effect at the next sample)."""
        return self._idle_threshold

    def ask_on_return(self, ask: Callable[[IdleReturn], None],
                      settled: Callable[[IdleAnswer | None], None] = lambda _answer: None) -> None:
        """Hold idle minutes and call ``ask`` when the person returns; ``settled`` gets the answer applied (None:
        released unchanged). Both run on the runner's thread. Call before ``run``."""
        self._ask, self._settled = ask, settled

    def answer_idle(self, answer: IdleAnswer) -> None:
        """The person's answer to the last ``ask``; applied on the runner's thread; safe from any thread."""
        self._answers.put(answer)

    def run(self, stop: threading.Event, every: float) -> None:
        """Sample every ``every`` seconds of real time until ``stop`` is set, then flush and settle."""
        try:
            while not stop.wait(every):
                self.sample()
        finally:
            self.close()

    def sample(self) -> None:
        mono = self._clock.monotonic()
        observed = self._observe(mono)
        if observed is None:
            return
        tracker, steps = observed
        self._save(tracker, steps, force=mono - self._saved_at >= self._checkpoint_every)
        self._take_answers()
        self._settle_when_due(tracker, mono)

    def close(self) -> None:
        """Read the input since the last sample, settle the open period and write every minute, including the
        current one. Nobody is asked any more: held minutes go out unchanged (a quit is no answer)."""
        spell, self._spell, self._ask = self._spell, None, None
        steps = self._last_reading()
        if self._tracker is not None:
            self._save(self._tracker, [*steps, self._tracker.shutdown()], force=True)
        if spell is not None:
            self._settle(None)

    @property
    def stopped_minute(self) -> datetime | None:
        """After ``close``: the minute the stop wrote before its end, which a restart within it continues while
        it is unsent (so the last upload at a quit leaves it behind); None before, or when nothing was tracked."""
        minute = None if self._tracker is None else self._tracker.stopped_minute()
        return None if minute is None else datetime.fromtimestamp(minute, UTC)

    def _last_reading(self) -> list[Step]:
        """The steps of the last observation at stop, after waiting for input still on its way. Both read the
        OS idle backend, which can fail (``IdleUnavailable``, ``GetLastInputInfo`` failing; often the very error
        that ended ``run``): the stop then writes what earlier samples read, with one log line."""
        failure: Exception | None = None
        if self._catch_up is not None:
            try:
                self._catch_up(self._clock.monotonic() - self._idle.idle_seconds())
            except Exception as error:  # broad: whatever the backend raises, the stop must still write
                failure = error
        observed = None
        try:
            observed = self._observe(self._clock.monotonic())
        except Exception as error:  # broad, as above
            failure = failure or error
        if failure is not None:
            log.warning("the last reading at stop failed (%s: %s): the stop writes what was sampled before it",
                        type(failure).__name__, failure)
        return [] if observed is None else observed[1]

    def _observe(self, mono: float) -> tuple[Tracker, list[Step]] | None:
        """Read the input totals, the OS idle time and the lock, and feed them to the tracker with any requests
        from other threads; None while waiting for a minute a previous run already wrote to end."""
        advance = self._timeline.advance(mono, self._clock.now())
        totals = self._counts()
        counts, self._totals = totals - self._totals, totals
        if advance is None:
            return None  # these seconds are not tracked, so neither is their input
        idle = self._idle.idle_seconds()
        seen = bool(counts) or (self._mono is not None and idle < mono - self._mono)
        self._mono = mono
        last_input = advance.wall - round(idle)
        if self._tracker is None:
            self._tracker = Tracker.start(idle_threshold=self._idle_threshold, wall=advance.wall, last_input=last_input)
        tracker = self._tracker
        steps = [tracker.tick(Sample(advance, seen, last_input, self._idle.locked(), counts))]
        while not self._requests.empty():
            steps.append(self._requests.get_nowait()(tracker))
        return tracker, steps

    def _save(self, tracker: Tracker, steps: list[Step], *, force: bool) -> None:
        slots = [slot for step in steps for slot in step.slots]
        changes = [change for step in steps for change in step.changes]
        questions = self._follow_spell(changes)
        if slots or changes or force or self._unsaved or self._undelivered:
            changes = self._commit(self._unsaved + slots, self._undelivered + changes, tracker.checkpoint())
        for change in changes:
            log.info("state %s since %s (seq %d)", change.state, change.since.isoformat(), change.seq)
            if self._on_change is not None:
                self._on_change(change)
        if self._ask is not None:
            for question in questions:
                self._ask(question)

    @property
    def minutes_in_memory(self) -> int:
        """Closed minutes the outbox could not take yet (a full or failing disk), written at the next save."""
        return len(self._unsaved)

    def _commit(self, slots: list[Slot], changes: list[PresenceChange], checkpoint: str) -> list[PresenceChange]:
        """Write, and return the changes now safe to deliver. When the disk is full or failing, keep sampling
        and hold everything unwritten in memory (a change is delivered only once written, so its ``seq``
        cannot repeat after a crash); the next save writes the same minutes again (duplicates are ignored)."""
        try:
            self._outbox.commit(slots, checkpoint, hold=self._held)
        except sqlite3.OperationalError as error:
            self._unsaved, self._undelivered = slots, changes
            if self.write_error is None:
                log.error("cannot write the outbox %s: %s; keeping minutes in memory until it can",
                          self._outbox.path, error)
            self.write_error = f"cannot write {self._outbox.path}: {error}"
            return []
        if self.write_error is not None:
            log.warning("the outbox %s is writable again: %d minutes kept in memory are stored",
                        self._outbox.path, len(self._unsaved))
        self._unsaved, self._undelivered, self.write_error = [], [], None
        self._saved_at = self._clock.monotonic()
        return changes

    # --- idle spells held for the person's answer ------------------------------------------------------------

    def _held(self, slot: Slot) -> bool:
        return self._spell is not None and slot.idle_s > 0

    def _follow_spell(self, changes: list[PresenceChange]) -> list[IdleReturn]:
        """Start holding when idle begins; ask when the person is back (active, or a break declared). A new
        spell while a question is still open joins it (one question, one answer for all held minutes)."""
        questions: list[IdleReturn] = []
        if self._ask is None:
            return questions
        for change in changes:
            spell = self._spell
            if change.state is WorkState.IDLE:
                if spell is not None and spell.answer is not None:
                    self._settle(spell.answer)  # answered, the return minute not closed yet: apply now
                    spell = None
                self._spell = spell or _Spell(change.since)
            elif change.state in (WorkState.ACTIVE, WorkState.BREAK) and spell is not None and spell.answer is None:
                spell.until, spell.deadline = change.since, self._clock.monotonic() + ANSWER_WAIT_S
                questions.append(IdleReturn(spell.since, change.since))
        return questions

    def _take_answers(self) -> None:
        while not self._answers.empty():
            answer = self._answers.get_nowait()
            spell = self._spell
            if spell is None or spell.until is None or spell.answer is not None:
                log.info("ignoring the answer %r: no question about an idle spell is open", answer.value)
                continue
            spell.answer = answer

    def _settle_when_due(self, tracker: Tracker, mono: float) -> None:
        spell = self._spell
        if spell is None or spell.until is None:
            return
        if spell.answer is not None:
            if tracker.decided >= minute_of(int(spell.until.timestamp())) + SLOT_SECONDS:
                self._settle(spell.answer)
        elif mono >= spell.deadline:
            log.info("no answer about the idle spell within %.0f min: it stays idle", ANSWER_WAIT_S / 60)
            self._settle(None)

    def _settle(self, answer: IdleAnswer | None) -> None:
        chosen = answer
        count = self._outbox.settle_held() if chosen is None else self._outbox.settle_held(
            lambda slot: rewrite(slot, chosen))
        self._spell = None
        log.info("idle spell settled (%s): %d held minutes released", "unchanged" if answer is None else answer.value,
                 count)
        self._settled(answer)
