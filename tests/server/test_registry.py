"""The device registry's rules, on both kinds: one socket per device, and Redis leases that lapse."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest

from server.registry import Claim, LocalRegistry, RedisRegistry, Registry

T0 = datetime(2026, 11, 25, 12, tzinfo=UTC)


@pytest.fixture(params=["local", "redis"])
def make(request: pytest.FixtureRequest) -> Callable[[], Registry]:
    if request.param == "local":
        return LocalRegistry
    url: str = request.getfixturevalue("redis_url")
    return lambda: RedisRegistry(url, lease_s=0.3)


def run(make: Callable[[], Registry], scenario: Callable[[Registry], Awaitable[None]]) -> None:
    async def main() -> None:
        registry = make()
        try:
            await scenario(registry)
        finally:
            await registry.close()

    asyncio.run(main())


def test_a_new_socket_replaces_the_old_and_the_old_goodbye_keeps_it(make: Callable[[], Registry]) -> None:
    old, new = Claim(101, "old-sid", T0), Claim(101, "new-sid", T0 + timedelta(seconds=5))

    async def scenario(registry: Registry) -> None:
        assert await registry.claim(old) is None
        assert await registry.connected([101, 102]) == {101: T0}
        assert await registry.claim(new) == "old-sid"
        assert await registry.renew([old]) == {"old-sid"}, "a replaced socket must learn it was replaced"
        assert await registry.release(old) is False
        assert await registry.connected([101]) == {101: new.since}
        assert await registry.release(new) is True
        assert await registry.connected([101]) == {}

    run(make, scenario)


def test_redis_leases_lapse_unless_renewed(redis_url: str) -> None:
    kept, dropped = Claim(201, "kept", T0), Claim(202, "dropped", T0)

    async def scenario(registry: Registry) -> None:
        for claim in (kept, dropped):
            await registry.claim(claim)
        deadline = time.monotonic() + 0.6
        while time.monotonic() < deadline:  # only "kept" is renewed, as a live process renews its sockets
            assert await registry.renew([kept]) == set()
            await asyncio.sleep(0.1)
        assert await registry.connected([201, 202]) == {201: T0}
        # A lease that lapsed while its socket lived (a slow sweep) is taken back by the next renewal.
        await asyncio.sleep(0.4)
        assert await registry.connected([201]) == {}
        assert await registry.renew([kept]) == set()
        assert await registry.connected([201]) == {201: T0}

    run(lambda: RedisRegistry(redis_url, lease_s=0.3), scenario)
