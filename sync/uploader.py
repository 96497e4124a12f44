"""Moves final slots from the outbox to the server: every few minutes, or at once on "Sync Now".

``Uploader.drain`` uploads batch after batch until the outbox is empty. Each batch is acknowledged in the
outbox only after the server answered 200, so a crash or a cut connection at any moment means the same batch
(same id) goes again, and the server's idempotency makes that harmless. Per failure:

- connection error, timeout, 5xx, 429: retry with ``backoff_delay`` (``Retry-After`` honoured), a few times;
  then give up until the next scheduled run — never a tight loop;
- 401: stop; the device needs enrollment, and retrying would only hammer the server;
- 403 ``device_pending``: stop until the next run, keeping every batch; the device waits for an admin's
  approval and its minutes go once it is approved;
- 422 naming one minute of the batch: ``before_enrollment`` (it and the earlier ones were recorded before this
  device was enrolled: the agent samples while it waits for enrollment) and ``minute_full`` (the user's other
  devices already fill that minute) set aside just those minutes; ``not_begun`` (this PC's clock runs ahead of
  the server's) keeps it and the later ones for the next run. The batch's other minutes go in a new batch;
- any other 4xx: that batch can never succeed as it is; it is set aside in the outbox with the server's reason
  (shown in the status and the log) and draining goes on with the next batch.

``SyncScheduler`` owns the one thread that uploads, so uploads never overlap; triggers while it runs
coalesce into one more run.

Only closed minutes are uploaded: the minute in progress is still being counted, and the server keeps the
first version of a minute it stored. So Sync Now also schedules one more run just after the minute in
progress ends (``MINUTE_CLOSE_MARGIN_S`` after it), instead of leaving that minute to the next scheduled run
up to five minutes later. That run finds the minute closed only when the person was active up to its end (an
idle end stays undecided until input or the idle threshold); ``open_minute_note`` says so to the person.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import re
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo

from agent.outbox import Outbox
from protocol.defaults import SYNC_INTERVAL_S
from protocol.schema import BEFORE_ENROLLMENT, MINUTE_FULL, NOT_BEGUN, ActivityBatch, Slot
from protocol.text import count_of
from sync.api import CONNECT_TIMEOUT_S, READ_TIMEOUT_S, ApiClient
from sync.backoff import backoff_delay, jittered
from sync.errors import AwaitingApproval, Cause, NotEnrolled, Refused, Transient, in_words
from sync.worker import Worker, ignore

log = logging.getLogger(__name__)

RETRIES_PER_RUN = 4
#: The sampler closes a minute at its first sample after the minute's end (one a second) when the person was
#: active to the end; the extra run after Sync Now goes this long after the minute's end.
MINUTE_CLOSE_MARGIN_S = 2.0


@dataclasses.dataclass(frozen=True)
class SyncStatus:
    """The uploader's result for the UI and CLI."""

    last_attempt: datetime | None = None
    last_success: datetime | None = None
    last_sent: int = 0  # slots (minutes) sent by the last successful run
    pending: int = 0
    set_aside: int = 0  # batches refused by the server since the agent started
    last_error: str | None = None
    needs_enrollment: bool = False
    awaiting_approval: bool = False  # the server holds this device pending an admin's approval
    unreachable: bool = False  # the last run got no answer from the server (the minutes wait in the outbox)

    def summary(self, zone: tzinfo | None = None) -> str:
        """One line in words, e.g. "Sent 12 minutes at 14:05". "Up to date" only after the server answered: a
        run with nothing to send asks it (``Uploader._reach``)."""
        if self.needs_enrollment:
            return f"Not syncing: {self.last_error}"
        if self.awaiting_approval:
            return (f"Not syncing yet: {self.last_error} {count_of(self.pending, 'minute')} kept, "
                    "sent once approved")
        if self.last_error is not None:
            kept = f". {KEPT}" if self.unreachable and self.pending else ""
            return f"Last sync failed: {self.last_error}{kept}"
        if self.last_success is None:
            return "Not synced yet"
        at = self.last_success.astimezone(zone).strftime("%H:%M")
        if self.last_sent == 0:
            return f"Up to date at {at}"
        return f"Sent {count_of(self.last_sent, 'minute')} at {at}"


#: What a failed upload means for the person's time, said with the failure.
KEPT = "Your minutes are kept and will be sent when the server is reachable"


def utc_now() -> datetime:
    return datetime.now(UTC)


def minute_closed_at(now: datetime) -> datetime:
    """When the minute in progress at ``now`` is closed and can be uploaded (``MINUTE_CLOSE_MARGIN_S`` after it)."""
    return now.replace(second=0, microsecond=0) + timedelta(minutes=1, seconds=MINUTE_CLOSE_MARGIN_S)


def open_minute_note(asked: datetime, zone: tzinfo | None = None) -> str:
    """What a Sync Now asked at ``asked`` did not send, in words: the minute then in progress. The extra run
    just after its end sends it only if the sampler closed it by then, which it does at once when the person
    was active up to the end; idle at the end, the minute stays undecided until input comes back or the idle
    threshold passes, and goes with a later upload."""
    minute = asked.replace(second=0, microsecond=0).astimezone(zone)
    return f"The minute in progress ({minute:%H:%M}) follows, usually within a minute of its end; otherwise with " \
           "the next upload."


class Uploader:
    """Not thread-safe: one thread drains (``SyncScheduler``'s, or a one-off job's). ``on_sent`` gets each
    batch's minutes once the server stored them (on that thread): the live view shows them without reading the
    day back."""

    def __init__(self, outbox: Outbox, api: ApiClient, *, now: Callable[[], datetime] = utc_now,
                 rng: random.Random | None = None,
                 on_sent: Callable[[list[Slot]], None] = ignore) -> None:
        self._outbox, self._api, self._now, self._rng, self._on_sent = outbox, api, now, rng, on_sent
        self.status = SyncStatus(pending=outbox.pending_count())

    def drain(self, wait: Callable[[float], bool], retries: int = RETRIES_PER_RUN, *,
              before: datetime | None = None) -> SyncStatus:
        """Upload until the outbox is empty (of the minutes starting ``before``, when given). ``wait(seconds)``
        sleeps between retries; True means stop."""
        started = self._now()
        sent = failures = taken = 0
        transient: str | None = None  # cleared by the next success
        refused: str | None = None  # stays: the user should see that minutes were set aside
        needs_enrollment = awaiting_approval = unreachable = False
        set_aside = self.status.set_aside
        try:
            while (batch := self._outbox.take_batch(before=before)) is not None:
                taken += 1
                try:
                    self._api.post_activity(ActivityBatch(batch_id=batch.batch_id, slots=batch.slots))
                except AwaitingApproval as exc:
                    log.info("upload held: %s", exc)
                    transient, awaiting_approval = in_words(exc), True
                    break
                except Transient as exc:
                    transient, unreachable = in_words(exc), True
                    if failures >= retries:
                        break
                    delay = backoff_delay(failures, retry_after=exc.retry_after, rng=self._rng)
                    failures += 1
                    log.info("upload failed (%s); retry %d in %.1f s", exc, failures, delay)
                    if wait(delay):
                        break
                    continue
                except NotEnrolled as exc:
                    log.warning("upload refused: %s", exc)
                    transient, needs_enrollment = in_words(exc), True
                    break
                except Refused as exc:
                    named = _named_minute(batch.slots, exc)
                    if exc.code == NOT_BEGUN and named is not None:
                        log.info("the server's clock has not reached %s yet: those minutes wait for the next run "
                                 "(%s)", named.isoformat(), exc)
                        self._outbox.release(batch.batch_id)
                        before = named  # minutes from here on wait: the server's clock has not reached them
                        continue
                    if exc.code == BEFORE_ENROLLMENT and named is not None:
                        count = self._outbox.set_aside_span(batch.batch_id, str(exc), last=named)
                    elif exc.code == MINUTE_FULL and named is not None:
                        count = self._outbox.set_aside_span(batch.batch_id, str(exc), first=named, last=named)
                    else:
                        self._outbox.set_aside(batch.batch_id, str(exc))
                        count = len(batch.slots)
                    log.warning("server refused %d of the %d minutes of batch %s: %s", count, len(batch.slots),
                                batch.batch_id, exc)
                    set_aside += 1
                    refused = f"{count_of(count, 'minute')} set aside: {exc}"
                    continue
                self._outbox.acknowledge(batch.batch_id)
                sent += len(batch.slots)
                self._on_sent(batch.slots)
                failures, transient, unreachable = 0, None, False
            if not taken:  # nothing to send: only an answer from the server may say "up to date"
                transient, needs_enrollment, awaiting_approval, unreachable = self._reach()
        except sqlite3.OperationalError as exc:  # disk full or failing: the minutes stay, try next run
            log.error("cannot write %s: %s", self._outbox.path, exc)
            transient = in_words(Transient(str(exc), cause=Cause.DISK))
        error = transient or refused
        success = transient is None
        self.status = SyncStatus(
            last_attempt=started, last_success=self._now() if success else self.status.last_success,
            last_sent=sent if success else self.status.last_sent, pending=self._outbox.pending_count(),
            set_aside=set_aside, last_error=error, needs_enrollment=needs_enrollment,
            awaiting_approval=awaiting_approval, unreachable=unreachable)
        return self.status


    def _reach(self) -> tuple[str | None, bool, bool, bool]:
        """With nothing to send, one ``GET /me`` (no retries: nothing waits on it): whether the server answers and
        still knows this device. ``(error, needs enrollment, awaiting approval, unreachable)``."""
        try:
            self._api.me()
        except AwaitingApproval as exc:
            return str(exc), False, True, False
        except Transient as exc:
            return str(exc), False, False, True
        except NotEnrolled as exc:
            return str(exc), True, False, False
        except Refused as exc:
            return str(exc), False, False, False
        return None, False, False, False


def _named_minute(slots: list[Slot], refusal: Refused) -> datetime | None:
    """The start of the minute a refusal of some of a batch's minutes names (its ``field`` is ``slots[i]…``:
    ``before_enrollment``, ``not_begun``, ``minute_full``, server.ingest), or None for any other refusal."""
    if refusal.code not in (BEFORE_ENROLLMENT, NOT_BEGUN, MINUTE_FULL) or refusal.field is None:
        return None
    found = re.match(r"slots\[(\d+)\]\.", refusal.field)
    if found is None or int(found[1]) >= len(slots):
        return None
    return slots[int(found[1])].start


class SyncScheduler(Worker):
    """The upload thread: runs ``drain`` every ``interval_s`` (± 10 %), whenever ``sync_now`` is called, and once
    more just after the minute that was in progress at a ``sync_now`` closed."""

    def __init__(self, uploader: Uploader, *, interval_s: float = SYNC_INTERVAL_S,
                 on_status: Callable[[SyncStatus], None] = lambda _status: None,
                 rng: random.Random | None = None, now: Callable[[], datetime] = utc_now) -> None:
        super().__init__("uploader")
        self._uploader, self._interval, self._on_status, self._rng, self._now = (
            uploader, interval_s, on_status, rng, now)
        self._lock = threading.Lock()
        #: The extra run after a Sync Now (monotonic): the wall clock (``now``) only says when the minute ends.
        self._follow_up: float | None = None
        self._flush = False
        self._flush_before: datetime | None = None
        self._quick = False  # the next run tries each batch once: a Sync Now while the server is known down

    def start(self) -> None:
        """Start the thread with a run at once: minutes left from before a restart go out now."""
        self.wake()
        super().start()

    def sync_now(self, *, quick: bool = False) -> datetime:
        """Ask for a run at once, and one more once the minute in progress closed; calls while a run is going
        fold into one more run (or cut a retry wait). ``quick``: the server is known to be down (the live
        connection lost it), so the run tries once and says so at once instead of after its retries (10 s and
        more) while the person waits at the button. Returns when it was asked, which decides the minute the
        extra run is for (``open_minute_note``)."""
        now = self._now()
        with self._lock:
            self._follow_up = time.monotonic() + (minute_closed_at(now) - now).total_seconds()
            self._quick = quick
        self.wake()
        return now

    def set_interval(self, seconds: float) -> None:
        """Upload every ``seconds`` from the next wait on (the team's policy, read while running)."""
        with self._lock:
            self._interval = seconds

    @property
    def interval_s(self) -> float:
        with self._lock:
            return self._interval

    def stop(self, timeout: float | None = None, *, flush: bool = False, before: datetime | None = None) -> bool:
        """End the thread; ``flush`` and ``before`` as for ``request_stop``."""
        self.request_stop(flush=flush, before=before)
        return self.join(timeout)

    def request_stop(self, *, flush: bool = False, before: datetime | None = None) -> None:
        """Ask the thread to end; with ``flush`` it tries one last upload without retries first (on Quit), on
        its own thread like every upload (its ``ApiClient`` is the thread's), of the minutes starting ``before``
        only, when given: the quit leaves behind the minute its stop wrote, which a restart within that minute
        continues (``Outbox.reopen``) and the next start uploads at once."""
        self._flush, self._flush_before = flush, before
        super().request_stop()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread; a flush adds as long as one request lasts."""
        return super().join((self.stop_timeout if timeout is None else timeout)
                            + (CONNECT_TIMEOUT_S + READ_TIMEOUT_S if self._flush else 0.0))

    def _next_wait(self) -> float:
        """Seconds to the next run: the interval, or less when a follow-up run is due sooner."""
        with self._lock:
            wait = jittered(self._interval, rng=self._rng)
            if self._follow_up is not None:
                wait = min(wait, max(0.0, self._follow_up - time.monotonic()))
        return wait

    def _run(self) -> None:
        while not self._pause(self._next_wait()):
            with self._lock:
                if self._follow_up is not None and time.monotonic() >= self._follow_up:
                    self._follow_up = None
                quick, self._quick = self._quick, False
            try:
                self._on_status(self._uploader.drain(self._pause, 0 if quick else RETRIES_PER_RUN))
            except Exception:  # a bug in one run must not end syncing for the rest of the day
                log.exception("upload run failed")
        if self._flush:
            self._on_status(self._uploader.drain(lambda _seconds: True, retries=0, before=self._flush_before))
