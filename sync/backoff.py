"""One backoff rule for every retry loop in the agent: exponential with full jitter, capped.

Full jitter (a uniform draw between 0 and the exponential ceiling) spreads a fleet that lost the server at the
same moment over the whole window, so they do not come back in lockstep. A server's ``Retry-After`` is a floor.

The live socket has one exception (``Reconnect``): right after a connection that was live drops, it retries
soon, because such a drop is most often a server restart or a blink of the network, both over in seconds.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

#: For this long after a live connection drops, retries wait at most ``RECONNECT_SOON_CAP_S`` (full jitter), so
#: a fleet is back within about that long of a restarted server listening again (docs/scaling.md). An attempt
#: on a server that is still down is a refused TCP connection (or a proxy's 502): cheap for both sides, even
#: from thousands of agents. A longer outage falls back to the exponential rule, from its first step.
RECONNECT_SOON_S = 60.0
RECONNECT_SOON_CAP_S = 1.5


def backoff_delay(attempt: int, *, base: float = 1.0, cap: float = 300.0, retry_after: float | None = None,
                  rng: random.Random | None = None) -> float:
    """Seconds to wait before retry number ``attempt`` (0 for the first retry)."""
    ceiling = min(cap, base * 2 ** min(attempt, 32))
    delay = (rng or random).uniform(0, ceiling)
    if retry_after is not None:
        delay = max(delay, min(retry_after, cap))
    return delay


def jittered(interval: float, *, spread: float = 0.1, rng: random.Random | None = None) -> float:
    """``interval`` ± ``spread``: a fleet started together drifts apart instead of syncing on the same second."""
    return interval * (1 + (rng or random).uniform(-spread, spread))


class Reconnect:
    """When the live socket tries again: soon after a drop of a live connection, exponentially otherwise."""

    def __init__(self, *, base: float, cap: float, rng: random.Random | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._base, self._cap, self._rng, self._clock = base, cap, rng or random.Random(), clock
        self._dropped_at: float | None = None
        self._failures = 0

    def dropped(self) -> None:
        """A connection that was live ended."""
        self._dropped_at, self._failures = self._clock(), 0

    def delay(self) -> float:
        """Seconds to wait before the next attempt; each call counts as one more failed attempt."""
        if self._dropped_at is not None and self._clock() - self._dropped_at < RECONNECT_SOON_S:
            return self._rng.uniform(0, RECONNECT_SOON_CAP_S)
        delay = backoff_delay(self._failures, base=self._base, cap=self._cap, rng=self._rng)
        self._failures += 1
        return delay
