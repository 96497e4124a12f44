"""A warning that a flood of requests could repeat thousands of times a second, logged at most once a while.

A load balancer probes ``/healthz`` every few seconds from each of its nodes, and anyone may ask as often as they
like: one line per failed check would fill the disk while the database is down and bury everything else. So the
first failure is logged at once, later ones at most once per ``every_s``, each such line saying how many were left
out since the one before.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable


class ThrottledLog:
    def __init__(self, logger: logging.Logger, every_s: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.logger, self.every_s, self.clock = logger, every_s, clock
        self._next: float | None = None
        self._left_out = 0

    def warning(self, message: str, *args: object) -> None:
        now = self.clock()
        if self._next is not None and now < self._next:
            self._left_out += 1
            return
        if self._left_out:
            message += f" (and {self._left_out} more like it since the last such line)"
        self.logger.warning(message, *args)
        self._next, self._left_out = now + self.every_s, 0
