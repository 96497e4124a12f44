"""The retry rules: exponential full jitter with a cap and a ``Retry-After`` floor, and the live socket's
"soon after a drop" window (``Reconnect``), on an injected clock and a random source pinned to its bounds."""

from __future__ import annotations

import random

from sync.backoff import RECONNECT_SOON_CAP_S, RECONNECT_SOON_S, Reconnect, backoff_delay


class Ceiling(random.Random):
    def uniform(self, a: float, b: float) -> float:
        return b


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_backoff_doubles_to_its_cap_and_never_undercuts_retry_after() -> None:
    ceilings = [backoff_delay(attempt, base=1.0, cap=20.0, rng=Ceiling()) for attempt in range(7)]
    assert ceilings == [1, 2, 4, 8, 16, 20, 20]
    assert backoff_delay(0, base=1.0, cap=20.0, retry_after=7.0, rng=random.Random(1)) >= 7.0
    assert backoff_delay(0, base=1.0, cap=20.0, retry_after=90.0, rng=Ceiling()) == 20.0, "the cap bounds it"


def test_reconnect_is_exponential_until_a_live_connection_drops() -> None:
    clock = Clock()
    retry = Reconnect(base=2.0, cap=60.0, rng=Ceiling(), clock=clock)
    assert [retry.delay() for _ in range(4)] == [2, 4, 8, 16], "never live: plain backoff"
    retry.dropped()
    soon = []
    while clock.now < 1000 + RECONNECT_SOON_S:
        soon.append(retry.delay())
        clock.now += soon[-1]
    assert len(soon) >= RECONNECT_SOON_S / RECONNECT_SOON_CAP_S and set(soon) == {RECONNECT_SOON_CAP_S}
    assert [retry.delay() for _ in range(3)] == [2, 4, 8], "after the window: backoff again from its first step"


def test_soon_delays_are_spread_over_the_whole_window() -> None:
    retry = Reconnect(base=1.0, cap=60.0, rng=random.Random(7), clock=Clock())
    retry.dropped()
    delays = [retry.delay() for _ in range(2000)]
    assert 0 <= min(delays) < 0.05 and RECONNECT_SOON_CAP_S - 0.05 < max(delays) <= RECONNECT_SOON_CAP_S
