"""Per-device write rate limit: a burst is allowed, then 429 with Retry-After, and the budget refills."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from server.errors import RateLimited
from server.limits import TokenBucket
from support.servers import ServerProcess
from support.team import make_team, put_presence


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
