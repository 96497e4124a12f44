"""The sampling side put together — input counter, idle backend, outbox, runner — for any front end.

Both ``staffpulse`` (the full agent, ``staffpulse.cli``) and the sampler-only ``python -m staffpulse.sampler``
start the agent through ``Sampler.open``, so there is one place that decides how the parts are wired.
"""

from __future__ import annotations

import io
import logging
import logging.handlers
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from agent.clock import Clock, ScaledClock, SystemClock
from agent.idle import SinceLastEvent, open_backend
from agent.input_counter import InputCounter
from agent.outbox import Outbox
from agent.paths import PRIVATE_FILE
from agent.recovery import open_outbox
from agent.runner import Runner
from agent.states import PresenceChange

log = logging.getLogger("agent")


class PrivateRotatingLog(logging.handlers.RotatingFileHandler):
    """A rotating log whose files (the first and each after a rotation) are the user's alone (0600 on Linux
    and macOS): it names the servers, the team and the states the agent saw."""

    def _open(self) -> io.TextIOWrapper:
        descriptor = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE_FILE)
        return open(descriptor, "a", encoding=self.encoding, errors=self.errors)


def configure_logging(directory: Path, *, to_stderr: bool = True) -> None:
    """A rotating file in the platform log dir (a windowed exe has no stderr), plus stderr when there is one."""
    handlers: list[logging.Handler] = [PrivateRotatingLog(
        directory / "agent.log", maxBytes=1_000_000, backupCount=3, encoding="utf-8")]
    if to_stderr and sys.stderr is not None:
        handlers.append(logging.StreamHandler(sys.stderr))
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in handlers:
        handler.setFormatter(formatter)
    logging.basicConfig(level=logging.INFO, handlers=handlers, force=True)


class Sampler:
    """The sampling side as one object: the input counter, the outbox and the ``Runner`` whose loop samples.
    Front ends open it, run it on a thread of their own (the runner's thread), and close it."""

    def __init__(self, *, counter: InputCounter, outbox: Outbox, runner: Runner, every: float,
                 notice: str | None = None) -> None:
        self.counter, self.outbox, self.runner, self._every = counter, outbox, runner, every
        #: Something the person must be told about this start (a damaged outbox was moved aside), or None.
        self.notice = notice

    @classmethod
    def open(cls, data_dir: Path, *, idle_threshold: int, time_scale: float = 1.0,
             on_change: Callable[[PresenceChange], None] | None = None) -> Sampler:
        """Start counting input and open the outbox; ``time_scale`` > 1 is for tests (``--time-scale``)."""
        clock: Clock = SystemClock() if time_scale == 1.0 else ScaledClock(time_scale)
        counter = InputCounter(clock.monotonic)
        counter.start()
        fallback = SinceLastEvent(lambda: counter.last_event, clock.monotonic)
        idle = fallback if time_scale != 1.0 else open_backend(fallback)
        outbox, notice = open_outbox(data_dir, now=clock.now)
        log.info("agent started: outbox %s, idle threshold %d s", outbox.path, idle_threshold)
        # At stop, the OS's idle time tells whether input is still on its way to the listeners; the fallback,
        # made from the listeners themselves, cannot.
        runner = Runner(outbox=outbox, clock=clock, counts=counter.totals, idle=idle, idle_threshold=idle_threshold,
                        on_change=on_change, catch_up=None if idle is fallback else counter.catch_up)
        return cls(counter=counter, outbox=outbox, runner=runner, every=1.0 / time_scale, notice=notice)

    def run(self, stop: threading.Event) -> None:
        """Sample on this thread until ``stop`` is set; the open minute is written before returning."""
        self.runner.run(stop, every=self._every)
        log.info("agent stopped: %d minutes waiting for upload", self.outbox.pending_count())

    def close(self) -> None:
        self.counter.stop()
        self.outbox.close()
