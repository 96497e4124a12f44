"""One backoff rule for every retry loop in the agent: exponential with full jitter, capped.

Full jitter (a uniform draw between 0 and the exponential ceiling) spreads a fleet that lost the server at the
same moment over the whole window, so they do not come back in lockstep. A server's ``Retry-After`` is a floor.
"""

from __future__ import annotations

import random


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
