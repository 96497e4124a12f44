"""The uploader against a real server: everything arrives once, faults are retried with backoff, 401 stops,
and a refused batch is set aside with the server's reason instead of being dropped or retried forever."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from agent.outbox import Outbox
from protocol.schema import COUNT_LIMITS, ActivityBatch, Slot
from server import admin
from server.migrate import run_in_session
from support.proxy import DROP, FORWARD_THEN_DROP, FaultProxy, Scripted
from support.servers import ServerProcess, free_port
from support.team import Person, Team, approve, backdate_enrollment, enroll, enroll_by_key, get, issue_code, new_key
from sync.api import ApiClient
from sync.service import sync_now_summary
from sync.uploader import (
    MINUTE_CLOSE_MARGIN_S,
    RETRIES_PER_RUN,
    SyncScheduler,
    SyncStatus,
    Uploader,
    minute_closed_at,
    open_minute_note,
)

# Two days back: 1,200 minutes from this noon must all have ended whatever the time of day the test runs.
NOON = (datetime.now(UTC) - timedelta(days=2)).replace(hour=12, minute=0, second=0, microsecond=0)


def minutes(count: int, start: datetime = NOON) -> list[Slot]:
    return [Slot(start=start + timedelta(minutes=i), tracked_s=60, active_s=50, idle_s=10, break_s=0, input_s=40,
                 keys=3, clicks=1, scrolls=0, mouse_px=80) for i in range(count)]


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    box = Outbox(tmp_path)
    yield box
    box.close()


@pytest.fixture
def proxy(server: ServerProcess) -> Iterator[FaultProxy]:
    with FaultProxy(server.url) as front:
        yield front


def client(url: str, person: Person) -> ApiClient:
    return ApiClient(url, lambda: person.token)


def stored_keys(server: ServerProcess, person: Person) -> int:
    keys: int = get(server, person, f"/api/v1/me/days/{NOON.date().isoformat()}").json()["totals"]["keys"]
    return keys


class Waits:
    """Records the retry waits the uploader asks for, without sleeping them."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> bool:
        self.delays.append(seconds)
        return False


def test_drain_sends_everything_once_in_batches(server: ServerProcess, team: Team, outbox: Outbox) -> None:
    person = team.people[1]
    outbox.commit(minutes(1200), checkpoint="{}")
    status = Uploader(outbox, client(server.url, person)).drain(Waits())
    assert (status.last_sent, status.pending, status.last_error) == (1200, 0, None)
    assert status.summary().startswith("Sent 1200 minutes at ")
    assert outbox.take_batch() is None
    report = get(server, person, f"/api/v1/me/days/{NOON.date().isoformat()}").json()
    assert len(report["slots"]) == 660  # Berlin's day ends at 23:00 UTC; the rest is the next local day
    assert stored_keys(server, person) == 3 * 660


def test_minutes_stamped_ahead_of_the_clock_wait_instead_of_being_refused(server: ServerProcess, team: Team,
                                                                         outbox: Outbox) -> None:
    """The timeline runs ahead of real time after a wall-clock step forward and back. The server refuses a
    minute that has not begun by its clock; sent anyway, those minutes would be set aside and lost."""
    person = team.people[1]
    ahead = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=5)
    outbox.commit([*minutes(3), *minutes(2, start=ahead)], checkpoint="{}")
    status = Uploader(outbox, client(server.url, person)).drain(Waits())
    assert (status.last_sent, status.pending, status.set_aside, status.last_error) == (3, 2, 0, None)
    assert stored_keys(server, person) == 3 * 3
    assert outbox.set_aside_reasons() == {}


def test_answer_lost_after_the_server_committed_stores_nothing_twice(server: ServerProcess, team: Team,
                                                                      outbox: Outbox, proxy: FaultProxy) -> None:
    person = team.people[1]
    outbox.commit(minutes(30), checkpoint="{}")
    proxy.fail_next(Scripted(FORWARD_THEN_DROP))  # the server stores the batch; its answer never arrives
    status = Uploader(outbox, client(proxy.url, person)).drain(Waits())
    assert (status.pending, status.last_error) == (0, None)
    posts = [(path, code) for method, path, code in proxy.seen if method == "POST"]
    assert posts == [("/api/v1/activity", FORWARD_THEN_DROP), ("/api/v1/activity", 200)]
    assert stored_keys(server, person) == 3 * 30


def test_crash_before_acknowledge_resends_the_same_batch(server: ServerProcess, team: Team, tmp_path: Path) -> None:
    person = team.people[1]
    first = Outbox(tmp_path)
    first.commit(minutes(30), checkpoint="{}")
    batch = first.take_batch()
    assert batch is not None
    client(server.url, person).post_activity(ActivityBatch(batch_id=batch.batch_id, slots=batch.slots))
    first.close()  # the agent is killed after the server stored the batch, before the outbox heard of it
    again = Outbox(tmp_path)
    try:
        retried = again.take_batch()
        assert retried is not None and retried.batch_id == batch.batch_id
        assert Uploader(again, client(server.url, person)).drain(Waits()).pending == 0
    finally:
        again.close()
    assert stored_keys(server, person) == 3 * 30


class Fraction(random.Random):
    """Every random draw a small fixed fraction of its range: retry waits of a few ms, exactly."""

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * 0.01


def test_server_down_for_several_periods_then_back(server: ServerProcess, team: Team, outbox: Outbox,
                                                   proxy: FaultProxy) -> None:
    """No busy loop while the server is down: each run tries a bounded number of times, then waits for the
    next one; once the server is back, everything arrives once."""
    person = team.people[1]
    outbox.commit(minutes(12), checkpoint="{}")
    attempts_at_run_end: list[int] = []
    ended = threading.Condition()

    def on_status(status: SyncStatus) -> None:
        with ended:
            attempts_at_run_end.append(len(proxy.seen))
            ended.notify_all()

    scheduler = SyncScheduler(Uploader(outbox, client(proxy.url, person), rng=Fraction()), interval_s=0.05,
                              on_status=on_status, rng=Fraction())
    server.stop()
    try:
        scheduler.start()
        with ended:
            assert ended.wait_for(lambda: len(attempts_at_run_end) >= 3, timeout=30), "three runs while down"
            runs = list(attempts_at_run_end[:3])
        assert all(code == 502 for _, _, code in proxy.seen[:runs[-1]])
        assert runs == [(RETRIES_PER_RUN + 1) * n for n in (1, 2, 3)], f"attempts at each run's end: {runs}"
        assert outbox.pending_count() == 12
    finally:
        server.start()
    with ended:
        assert ended.wait_for(lambda: outbox.pending_count() == 0, timeout=30), "not sent once the server was back"
    scheduler.stop()
    assert stored_keys(server, person) == 3 * 12


def test_5xx_429_and_dropped_connections_are_retried_with_backoff(server: ServerProcess, team: Team,
                                                                    outbox: Outbox, proxy: FaultProxy) -> None:
    person = team.people[1]
    outbox.commit(minutes(5), checkpoint="{}")
    proxy.fail_next(Scripted(503), Scripted(DROP), Scripted(429, (("Retry-After", "7"),)))
    waits = Waits()
    status = Uploader(outbox, client(proxy.url, person)).drain(waits)
    assert (status.last_error, status.pending, status.last_sent) == (None, 0, 5)
    assert [s for _, _, s in proxy.seen] == [503, 0, 429, 200]
    assert len(waits.delays) == 3
    assert waits.delays[2] >= 7, "Retry-After must be honoured"
    assert stored_keys(server, person) == 15


def test_gives_up_after_a_few_retries_and_keeps_the_minutes(server: ServerProcess, team: Team, outbox: Outbox,
                                                            proxy: FaultProxy) -> None:
    outbox.commit(minutes(5), checkpoint="{}")
    proxy.fail_next(*[Scripted(502)] * 10)
    waits = Waits()
    status = Uploader(outbox, client(proxy.url, team.people[1])).drain(waits, retries=3)
    assert len(proxy.seen) == 4 and len(waits.delays) == 3
    assert status.pending == 5 and status.last_success is None
    assert status.last_error is not None and "busy or having trouble" in status.last_error
    assert "502" not in status.last_error, "the HTTP status is for the log"
    assert waits.delays == sorted(waits.delays) or max(waits.delays) <= 8  # exponential ceiling 1, 2, 4


def test_an_unreachable_server_is_said_in_words(team: Team, outbox: Outbox) -> None:
    """Issue 15, item 10: "cannot reach …: ConnectionError" was the exception's class name, shown to people."""
    outbox.commit(minutes(2), checkpoint="{}")
    status = Uploader(outbox, client(f"http://127.0.0.1:{free_port()}", team.people[1])).drain(Waits(), retries=0)
    assert status.last_error is not None and status.pending == 2
    assert status.last_error.startswith("Cannot reach the server (127.0.0.1:"), status.last_error
    assert "Check your network connection" in status.last_error
    assert "Error" not in status.summary(), status.summary()


def test_401_stops_at_once_and_asks_for_enrollment(server: ServerProcess, team: Team, outbox: Outbox,
                                                   proxy: FaultProxy) -> None:
    person = team.people[1]
    outbox.commit(minutes(5), checkpoint="{}")
    import asyncio

    asyncio.run(run_in_session(server.database_url,
                               lambda s, now: admin.revoke_device(s, device_id=person.device_id, now=now)))
    waits = Waits()
    status = Uploader(outbox, client(proxy.url, person)).drain(waits)
    assert status.needs_enrollment and status.pending == 5
    assert len(proxy.seen) == 1 and waits.delays == [], "no retry storm on 401"
    summary = status.summary()
    assert summary.startswith("Not syncing: An admin has revoked this device"), summary
    assert "Ask your admin for a new enrollment code" in summary
    for nested in ("no longer accepts this device:", "enroll it again", "must be enrolled again ("):
        assert nested not in summary, "issue 15, item 10: the triple-nested revoke message"


def test_refused_batch_is_set_aside_with_the_reason(server: ServerProcess, team: Team, outbox: Outbox) -> None:
    person = team.people[1]
    # The test server keeps 10 years; a minute from 11 years ago is refused for good (422).
    ancient = minutes(3, start=NOON.replace(year=NOON.year - 11))
    outbox.commit(ancient, checkpoint="{}")
    status = Uploader(outbox, client(server.url, person)).drain(Waits())
    assert status.set_aside == 1 and status.pending == 0
    assert status.last_error is not None and "retention window" in status.last_error
    outbox.commit(minutes(2), checkpoint="{}")
    status = Uploader(outbox, client(server.url, person)).drain(Waits())
    assert status.last_sent == 2


def test_minutes_from_before_enrollment_are_set_aside_and_the_later_ones_sent(server: ServerProcess, team: Team,
                                                                             outbox: Outbox) -> None:
    """The agent samples while it waits for enrollment (the tray app's first run, a device enrolled again after a
    revoke), and the server refuses those minutes: they are set aside, and the minutes recorded since enrollment,
    in the same batch, still arrive, once."""
    person = team.people[1]
    fresh = enroll(server, issue_code(server, person.login), device_name="new-pc")
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    before = minutes(30, start=now - timedelta(minutes=40))
    after = minutes(2, start=now - timedelta(minutes=1))  # the minute the agent started in, and this one
    outbox.commit(before + after, checkpoint="{}")
    uploader = Uploader(outbox, ApiClient(server.url, lambda: fresh["token"]))
    status = uploader.drain(Waits())
    assert (status.last_sent, status.pending, status.set_aside) == (2, 0, 1)
    [(reason, count)] = outbox.set_aside_reasons().items()
    assert count == 30 and "before this device was enrolled" in reason
    assert status.last_error is not None and status.last_error.startswith("30 minutes set aside")
    days = {slot.start.astimezone(ZoneInfo("Europe/Berlin")).date() for slot in after}
    stored = [get(server, person, f"/api/v1/me/days/{day.isoformat()}").json() for day in days]
    assert sorted(s["start"] for day in stored for s in day["slots"]) == [
        slot.start.isoformat().replace("+00:00", "Z") for slot in after]
    assert uploader.drain(Waits()).last_sent == 0, "nothing is sent twice"


def test_minutes_ahead_of_the_servers_clock_wait_for_the_next_run(server: ServerProcess, team: Team,
                                                                   tmp_path: Path) -> None:
    """This PC's clock runs five minutes ahead of the server's: the minutes the server has not reached yet are
    refused ``not_begun``; the ones before them are sent, and those wait, neither set aside nor sent twice."""
    person = team.people[1]
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    box = Outbox(tmp_path, now=lambda: datetime.now(UTC) + timedelta(minutes=5))
    try:
        box.commit(minutes(8, start=now - timedelta(minutes=3)), checkpoint="{}")
        uploader = Uploader(box, client(server.url, person))
        status = uploader.drain(Waits())
        assert (status.last_error, status.set_aside, box.set_aside_reasons()) == (None, 0, {})
        assert 3 <= status.last_sent <= 5 and status.pending == 8 - status.last_sent, status
        assert uploader.drain(Waits()).last_sent == 0, "the waiting minutes are not sent before their time"
        assert box.pending_count() == 8 - status.last_sent
    finally:
        box.close()


def test_a_minute_the_users_other_devices_fill_is_set_aside_alone(server: ServerProcess, team: Team,
                                                                  outbox: Outbox) -> None:
    """Another device of the same user already stored a full minute (``minute_full``): that minute is set aside,
    the batch's other minutes arrive."""
    person = team.people[1]
    full = NOON + timedelta(hours=3)
    laptop = enroll(server, issue_code(server, person.login), device_name="laptop")
    backdate_enrollment(server, [laptop["device_id"]])
    crowded = Slot(start=full, tracked_s=60, active_s=60, idle_s=0, break_s=0, input_s=60,
                   keys=COUNT_LIMITS["keys"], clicks=0, scrolls=0, mouse_px=0)
    ApiClient(server.url, lambda: laptop["token"]).post_activity(ActivityBatch(batch_id=uuid.uuid4(), slots=[crowded]))
    outbox.commit(minutes(3, start=full - timedelta(minutes=1)), checkpoint="{}")
    status = Uploader(outbox, client(server.url, person)).drain(Waits())
    assert (status.last_sent, status.pending, status.set_aside) == (2, 0, 1), status
    [(reason, count)] = outbox.set_aside_reasons().items()
    assert count == 1 and "other devices" in reason
    assert stored_keys(server, person) == COUNT_LIMITS["keys"] + 2 * 3


def test_scheduler_runs_at_start_on_sync_now_and_coalesces(server: ServerProcess, team: Team,
                                                           outbox: Outbox) -> None:
    """Five Sync Nows during a run make one more run, not five."""
    person = team.people[1]
    runs: list[int] = []
    done = threading.Condition()
    in_second_run, release = threading.Event(), threading.Event()

    def on_status(status: object) -> None:
        with done:
            runs.append(outbox.pending_count())
            done.notify_all()
        if len(runs) == 2:  # still inside the second run, on the upload thread
            in_second_run.set()
            release.wait(10)

    scheduler = SyncScheduler(Uploader(outbox, client(server.url, person)), interval_s=3600, on_status=on_status,
                              now=lambda: NOON)  # Sync Now's extra run for the open minute: 62 s later, far off
    scheduler.start()
    try:
        with done:
            assert done.wait_for(lambda: len(runs) == 1, timeout=5), "no run at start"
        outbox.commit(minutes(3, start=NOON + timedelta(hours=1)), checkpoint="{}")
        scheduler.sync_now()
        assert in_second_run.wait(5), "sync_now did not run"
        for _ in range(5):
            scheduler.sync_now()
        release.set()
        with done:
            assert done.wait_for(lambda: len(runs) == 3, timeout=5), "the triggers during a run made no run"
    finally:
        release.set()
        scheduler.stop()
    assert len(runs) == 3, f"five triggers must fold into one run, got {len(runs)} runs"
    assert runs[1:] == [0, 0]
    assert stored_keys(server, person) == 9


def test_sync_now_sends_the_minute_in_progress_just_after_it_closes(server: ServerProcess, team: Team,
                                                                    outbox: Outbox) -> None:
    """Sync Now sends the closed minutes at once; the minute then in progress goes in one more run shortly after
    it ends, not at the next five-minute run. The clock is injected: Sync Now comes 1 s before a minute's end."""
    person = team.people[1]
    open_minute = NOON + timedelta(hours=2)
    runs: list[SyncStatus] = []
    done = threading.Condition()

    def on_status(status: SyncStatus) -> None:
        with done:
            runs.append(status)
            done.notify_all()

    scheduler = SyncScheduler(Uploader(outbox, client(server.url, person)), interval_s=3600, on_status=on_status,
                              now=lambda: open_minute + timedelta(seconds=59))
    outbox.commit(minutes(2, start=open_minute - timedelta(minutes=2)), checkpoint="{}")
    scheduler.start()
    try:
        with done:
            assert done.wait_for(lambda: len(runs) == 1, timeout=10), "no run at start"
        asked = time.monotonic()
        scheduler.sync_now()
        with done:
            assert done.wait_for(lambda: len(runs) == 2, timeout=10), "Sync Now did not run"
        outbox.commit(minutes(1, start=open_minute), checkpoint="{}")  # the sampler closes the open minute
        with done:
            assert done.wait_for(lambda: len(runs) == 3, timeout=10), "no run after the open minute closed"
            extra_after = time.monotonic() - asked
        assert extra_after >= 1 + MINUTE_CLOSE_MARGIN_S, "the extra run came before the minute closed"
        assert (runs[2].last_sent, runs[2].pending) == (1, 0)
    finally:
        scheduler.stop()
    assert len(runs) == 3, "one extra run, not a repeating one"
    assert stored_keys(server, person) == 3 * 3


def test_the_open_minute_note_and_when_it_closes() -> None:
    at = datetime(2026, 11, 25, 14, 5, 31, tzinfo=UTC)
    assert minute_closed_at(at) == datetime(2026, 11, 25, 14, 6, 0, tzinfo=UTC) + timedelta(
        seconds=MINUTE_CLOSE_MARGIN_S)
    # It does not promise the minute at its end: idle then, the minute stays undecided and goes later.
    assert open_minute_note(at, UTC) == ("The minute in progress (14:05) follows, usually within a minute of its "
                                         "end; otherwise with the next upload.")
    assert "(15:05)" in open_minute_note(at, ZoneInfo("Europe/Berlin"))


def test_the_sync_now_note_names_the_minute_in_progress_when_asked_not_when_answered(
        server: ServerProcess, team: Team, outbox: Outbox) -> None:
    """A Sync Now asked at 14:05:59 whose result comes after 14:06 (a slow upload) speaks of 14:05: the minute its
    extra run is for. The scheduler's clock is injected and moves on while the run goes."""
    asked_at = datetime(2026, 11, 25, 14, 5, 59, tzinfo=UTC)
    clock = [asked_at]
    runs: list[SyncStatus] = []
    done = threading.Condition()

    def on_status(status: SyncStatus) -> None:
        clock[0] = asked_at + timedelta(seconds=3)  # the result arrives in the next minute
        with done:
            runs.append(status)
            done.notify_all()

    scheduler = SyncScheduler(Uploader(outbox, client(server.url, team.people[1])), interval_s=3600,
                              on_status=on_status, now=lambda: clock[0])
    scheduler.start()
    try:
        with done:
            assert done.wait_for(lambda: len(runs) == 1, timeout=10), "no run at start"
        clock[0] = asked_at
        asked = scheduler.sync_now()
        with done:
            assert done.wait_for(lambda: len(runs) == 2, timeout=10), "Sync Now did not run"
    finally:
        scheduler.stop()
    assert asked == asked_at
    assert "(14:05)" in sync_now_summary(runs[1], asked, UTC)


def test_sent_minutes_are_passed_on_once_stored(server: ServerProcess, team: Team, outbox: Outbox,
                                               proxy: FaultProxy) -> None:
    """``on_sent`` (the live view's source for this device's minutes) hears only of minutes the server stored."""
    sent: list[Slot] = []
    outbox.commit(minutes(4), checkpoint="{}")
    proxy.fail_next(Scripted(503))
    status = Uploader(outbox, client(proxy.url, team.people[1]), on_sent=sent.extend).drain(Waits())
    assert status.last_sent == 4 and sent == minutes(4)


def test_batch_ids_are_uuids(outbox: Outbox) -> None:
    outbox.commit(minutes(2), checkpoint="{}")
    batch = outbox.take_batch()
    assert batch is not None and isinstance(batch.batch_id, uuid.UUID)


def test_pending_device_keeps_its_minutes_and_sends_them_once_approved(server: ServerProcess, team: Team,
                                                                      outbox: Outbox, proxy: FaultProxy) -> None:
    """A deployment key's second device for a login waits for an admin: its uploads are refused 403
    ``device_pending``, which must neither set the minutes aside nor ask for enrollment nor retry in a loop."""
    person = team.people[1]
    answer = enroll_by_key(server, new_key(server, team.name), person.login, device_name="second-pc")
    assert answer.status_code == 201 and answer.json()["status"] == "pending", answer.text
    pending = answer.json()
    backdate_enrollment(server, [pending["device_id"]])  # its minutes are from two days ago
    outbox.commit(minutes(5), checkpoint="{}")
    uploader = Uploader(outbox, ApiClient(proxy.url, lambda: pending["token"]))
    waits = Waits()
    status = uploader.drain(waits)
    assert status.awaiting_approval and not status.needs_enrollment
    assert (status.pending, status.set_aside, outbox.set_aside_reasons()) == (5, 0, {})
    assert len(proxy.seen) == 1 and waits.delays == [], "no retries while waiting for approval"
    assert "yet to approve this device" in status.summary() and "5 minutes kept" in status.summary()
    approve(server, pending["device_id"])
    status = uploader.drain(Waits())
    assert (status.last_sent, status.pending, status.awaiting_approval) == (5, 0, False)
    assert stored_keys(server, person) == 15
