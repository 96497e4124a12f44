"""Waiting for a condition with a deadline: on a ``threading.Condition`` for a condition that may also change
without a notify, or, in a test's own event loop, for an awaitable check (``poll``)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable

#: How often ``wait_on`` looks again between notifies.
POLL_S = 0.05


def wait_on(changed: threading.Condition, condition: Callable[[], bool], timeout: float) -> bool:
    """True once ``condition`` holds, False after ``timeout`` s; ``changed`` must not be held by the caller.

    Woken by every notify, and polled meanwhile: a condition may read state its recorder is not told of (a
    worker's ``alive``, python-socketio's ``connected``, cleared only after its disconnect handler ran).
    ``Condition.wait_for`` alone slept out the whole timeout there, and a test passed only because the check at
    the end came true."""
    deadline = time.monotonic() + timeout
    with changed:
        while not condition():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            changed.wait(min(remaining, POLL_S))
        return True


async def poll(condition: Callable[[], Awaitable[bool]], timeout: float) -> bool:
    """True once the awaited ``condition`` holds, False after ``timeout`` s; looks again every ``POLL_S`` / 5."""
    deadline = time.monotonic() + timeout
    while not await condition():
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(POLL_S / 5)
    return True
