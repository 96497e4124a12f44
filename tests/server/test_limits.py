"""Abuse limits against a real server: the per-device write budget (a burst, then 429 with Retry-After, refilled
over time) and the cap on live sockets per user (the excess handshake refused with the reason)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import socketio

from server.errors import RateLimited
from server.limits import TokenBucket
from support.servers import ServerProcess
from support.team import LiveClient, enroll, issue_code, make_team, put_presence


def test_token_bucket_with_injected_clock() -> None:
    now = [0.0]
    bucket = TokenBucket(burst=3, rate=0.5, clock=lambda: now[0])
    for _ in range(3):
        bucket.take(1)
    with pytest.raises(RateLimited) as refused:
        bucket.take(1)
    assert refused.value.retry_after == 2
    bucket.take(2)  # another device has its own budget
    now[0] = 2.0
    bucket.take(1)
    with pytest.raises(RateLimited):
        bucket.take(1)


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    base: Path = tmp_path_factory.mktemp("strict")
    process = ServerProcess(f"sqlite:///{base / 'db.sqlite'}", base / "server.log", "--write-burst", "5",
                            "--write-rate", "0.5").start()
    yield process
    process.stop()


def test_writes_beyond_the_burst_get_429_with_retry_after(strict_server: ServerProcess) -> None:
    person = make_team(strict_server, roles=["member"]).people[0]
    answers = [put_presence(strict_server, person, "active", seq=i) for i in range(1, 8)]
    assert [a.status_code for a in answers] == [200] * 5 + [429] * 2
    refused = answers[-1]
    assert refused.json()["error"]["code"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) >= 1


def sockets_become(server: ServerProcess, count: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if requests.get(server.url + "/healthz", timeout=5).json()["sockets"] == count:
            return True
        time.sleep(0.05)
    return False


@pytest.fixture(scope="module")
def capped_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    base: Path = tmp_path_factory.mktemp("capped")
    process = ServerProcess(f"sqlite:///{base / 'db.sqlite'}", base / "server.log",
                            "--max-sockets-per-user", "2", "--health-details").start()  # its socket count
    yield process
    process.stop()


def test_sockets_beyond_the_per_user_cap_are_refused_with_the_reason(capped_server: ServerProcess) -> None:
    person = make_team(capped_server, roles=["member"]).people[0]
    tokens = [person.token] + [enroll(capped_server, issue_code(capped_server, person.login), f"pc-{n}")["token"]
                               for n in (2, 3)]
    first, second = (LiveClient(capped_server, t, reconnection=False).connect() for t in tokens[:2])
    third = LiveClient(capped_server, tokens[2], reconnection=False)
    again = LiveClient(capped_server, tokens[0], reconnection=False)
    try:
        with pytest.raises(socketio.exceptions.ConnectionError):
            third.connect()
        [refusal] = third.received("connect_error")
        assert refusal["message"].startswith("too many sockets: this user already holds 2")
        # The same device connecting again replaces its socket: not one more.
        again.connect()
        assert again.sio.connected
        # One closed, the third device gets in.
        second.close()
        assert sockets_become(capped_server, 1), "the server did not see the second socket go"
        third.connect()
        assert third.sio.connected
    finally:
        for client in (first, second, third, again):
            client.close()
