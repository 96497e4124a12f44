"""A background task that runs a process's passes every interval: the announcer's and the retention sweeper's.

Both loops were the same: a task of their own, started and cancelled with the app's lifespan, each pass's
failure logged and retried with the next pass rather than ending the loop for the life of the process (a busy
database, ``UNAVAILABLE``, is a warning; anything else a bug, logged with its traceback). They differ only in
whether the first pass runs at start (retention: a server started after a long stop deletes at once) or after
the first interval (announcing: nothing is waiting yet).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from server.errors import UNAVAILABLE

#: A named pass: what the log calls it, and the coroutine function that runs it once.
Pass = tuple[str, Callable[[], Awaitable[object]]]


class Periodic:
    def __init__(self, name: str, passes: Sequence[Pass], interval_s: Callable[[], float], log: logging.Logger, *,
                 at_start: bool) -> None:
        """``interval_s`` is read before each rest, so a test may change it on a running task."""
        self.name, self.passes, self.interval_s, self.log, self.at_start = name, passes, interval_s, log, at_start
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        if not self.at_start:
            await asyncio.sleep(self.interval_s())
        while True:
            for what, run in self.passes:
                try:
                    await run()
                except UNAVAILABLE as exc:  # a busy database: what is left goes with the next pass
                    self.log.warning("%s failed, the next pass retries: %s", what, exc)
                except Exception:  # a bug in one pass must not end the others, nor this loop
                    self.log.exception("%s failed", what)
            await asyncio.sleep(self.interval_s())

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
