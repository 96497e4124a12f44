"""Presence push against a real server: sent at once when online, only the latest state after an outage, 401
stops pushing, and a refused update is dropped instead of retried forever."""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from protocol.schema import PresenceAck, PresenceUpdate
from server import admin
from server.migrate import run_in_session
from server.models import DevicePresence
from support.proxy import FaultProxy, Scripted
from support.servers import ServerProcess
from support.team import LiveClient, Person, Team
from sync.api import ApiClient
from sync.presence_push import PresencePusher, PushStatus


class Ceiling(random.Random):
    """Every backoff at its upper bound, so a retry never comes early by chance."""

    def uniform(self, a: float, b: float) -> float:
        return b


class RecordingApi(ApiClient):
    """Remembers every presence PUT the server answered."""

    def __init__(self, url: str, person: Person) -> None:
        super().__init__(url, lambda: person.token)
        self.answered: list[PresenceUpdate] = []
        self.attempts = 0

    def put_presence(self, update: PresenceUpdate) -> PresenceAck:
        self.attempts += 1
        ack = super().put_presence(update)
        self.answered.append(update)
        return ack


class Statuses:
    def __init__(self) -> None:
        self.seen: list[PushStatus] = []
        self._changed = threading.Condition()

    def __call__(self, status: PushStatus) -> None:
        with self._changed:
            self.seen.append(status)
            self._changed.notify_all()

    def wait(self, condition: Callable[[PushStatus], bool], timeout: float = 3.0) -> PushStatus:
        with self._changed:
            if not self._changed.wait_for(lambda: any(condition(s) for s in self.seen), timeout):
                raise AssertionError(f"no such status within {timeout} s: {self.seen}")
            return next(s for s in self.seen if condition(s))


Start = Callable[..., tuple[PresencePusher, RecordingApi, Statuses]]


@pytest.fixture
def start_pusher(server: ServerProcess) -> Iterator[Start]:
    started: list[PresencePusher] = []

    def start(person: Person, *, url: str | None = None, **options: Any) -> tuple[PresencePusher, RecordingApi,
                                                                                 Statuses]:
        api, statuses = RecordingApi(url or server.url, person), Statuses()
        pusher = PresencePusher(api, on_status=statuses, **options)
        pusher.start()
        started.append(pusher)
        return pusher, api, statuses

    yield start
    for pusher in started:
        pusher.stop()


@pytest.fixture
def watcher(server: ServerProcess, team: Team) -> Iterator[LiveClient]:
    """A teammate's socket that hears the team's ``presence`` events."""
    client = LiveClient(server, team.by_role("member")[1].token).connect()
    yield client
    client.close()


def update(state: str, seq: int) -> PresenceUpdate:
    return PresenceUpdate.model_validate({"state": state, "since": datetime.now(UTC), "seq": seq})


def stored(server: ServerProcess, person: Person) -> tuple[str, int]:
    async def work(session: Any, _now: datetime) -> tuple[str, int]:
        row = (await session.scalars(select(DevicePresence).where(
            DevicePresence.device_id == person.device_id))).one()
        return str(row.state), int(row.seq)

    found: tuple[str, int] = asyncio.run(run_in_session(server.database_url, work))
    return found


def test_state_reaches_the_team_within_a_second(server: ServerProcess, start_pusher: Start, team: Team,
                                                watcher: LiveClient) -> None:
    person = team.by_role("member")[0]
    pusher, api, statuses = start_pusher(person)
    pusher.submit(update("break", 1))
    event = watcher.wait_for("presence", lambda e: e["user_id"] == person.user_id and e["state"] == "break",
                             timeout=1.0)
    assert event["name"] == person.name
    assert statuses.wait(lambda s: s.sent is not None) == PushStatus(sent=api.answered[0])
    assert stored(server, person) == ("break", 1)


def test_only_the_latest_state_is_sent_after_an_outage(server: ServerProcess, start_pusher: Start, team: Team,
                                                       watcher: LiveClient) -> None:
    person = team.by_role("member")[0]
    # Backoff of 30 s: after the first failure only connection_restored() can bring the retry forward.
    pusher, api, statuses = start_pusher(person, retry_base_s=30.0, rng=Ceiling())
    server.stop(kill=True)
    try:
        pusher.submit(update("break", 1))
        statuses.wait(lambda s: s.waiting and s.last_error is not None)
        pusher.submit(update("idle", 2))
        pusher.submit(update("away", 3))
    finally:
        server.start()
    assert watcher.wait_until(lambda: watcher.connects == 2, timeout=5.0), "the watcher did not reconnect"
    assert api.answered == []
    pusher.connection_restored()
    statuses.wait(lambda s: s.sent is not None, timeout=2.0)
    watcher.wait_for("presence", lambda e: e["user_id"] == person.user_id and e["state"] == "away", timeout=1.0)
    assert [u.seq for u in api.answered] == [3]
    assert api.attempts == 2  # the failed first try, then the latest state once
    assert stored(server, person) == ("away", 3)
    assert not [e for e in watcher.received("presence", lambda e: e["user_id"] == person.user_id)
                if e["state"] in ("break", "idle")]
    assert statuses.seen[-1] == PushStatus(sent=api.answered[0])


def test_revoked_device_stops_pushing_and_reports(server: ServerProcess, start_pusher: Start, team: Team) -> None:
    person = team.by_role("member")[0]
    asyncio.run(run_in_session(server.database_url,
                               lambda s, now: admin.revoke_device(s, device_id=person.device_id, now=now)))
    pusher, api, statuses = start_pusher(person)
    pusher.submit(update("active", 1))
    status = statuses.wait(lambda s: s.needs_enrollment)
    assert status.last_error is not None and status.last_error.startswith("An admin has revoked this device")
    pusher.submit(update("break", 2))
    threading.Event().wait(0.5)
    assert api.attempts == 1
    assert pusher.status.needs_enrollment


def test_refused_update_is_dropped_and_pushing_goes_on(server: ServerProcess, start_pusher: Start,
                                                       team: Team) -> None:
    person = team.by_role("member")[0]
    proxy = FaultProxy(server.url).start()
    try:
        proxy.fail_next(Scripted(422, body=b'{"error": {"code": "invalid", "message": "since: too far ahead"}}'))
        pusher, api, statuses = start_pusher(person, url=proxy.url)
        pusher.submit(update("idle", 1))
        refused = statuses.wait(lambda s: s.last_error is not None)
        assert refused == PushStatus(last_error="The server refused: since: too far ahead.")
        pusher.submit(update("break", 2))
        statuses.wait(lambda s: s.sent is not None)
        assert [u.seq for u in api.answered] == [2]
        assert [(method, status) for method, _path, status in proxy.seen] == [("PUT", 422), ("PUT", 200)]
        assert stored(server, person) == ("break", 2)
    finally:
        proxy.stop()


def test_retry_after_a_server_error_sends_the_state(server: ServerProcess, start_pusher: Start,
                                                    team: Team) -> None:
    person = team.by_role("member")[0]
    proxy = FaultProxy(server.url).start()
    try:
        proxy.fail_next(Scripted(503), Scripted(0))
        pusher, _api, statuses = start_pusher(person, url=proxy.url, retry_base_s=0.05)
        pusher.submit(update("break", 1))
        statuses.wait(lambda s: s.sent is not None)
        assert [status for _method, _path, status in proxy.seen] == [503, 0, 200]
        assert stored(server, person) == ("break", 1)
        assert not pusher.status.waiting and pusher.status.last_error is None
    finally:
        proxy.stop()

