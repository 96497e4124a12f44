"""The one shape of every background thread in ``sync/``: a named daemon thread with wake, stop and a log.

The uploader, the presence pusher, the live connection and the control channel each own one thread that
sleeps until there is work, does it, and ends when asked. ``Worker`` holds what they share: the thread
(daemon, so a stuck network call never keeps the process alive after ``stop`` gave up on it, and named, so a
thread dump and the log say whose it is), ``wake()`` to cut a wait short, ``stop(timeout)`` that asks and
waits a bounded time (or ``request_stop()`` and ``join()`` apart, to stop several at once), and a last-resort
log of an exception that would otherwise end the thread silently.

A subclass writes ``_run``; it waits with ``_pause(seconds)`` (True: stop now) or, when it waits on something
else (a queue, a condition, a socket), overrides ``wake`` to interrupt that.
"""

from __future__ import annotations

import logging
import threading

log = logging.getLogger(__name__)


def ignore(_value: object) -> None:
    """The default of every callback a worker's owner may leave out: nobody listens."""


class Worker:
    #: How long ``stop`` and ``join`` wait by default: the longest step the thread may be in when asked.
    stop_timeout = 10.0

    def __init__(self, name: str) -> None:
        self._stopping = threading.Event()
        self._woken = threading.Event()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    @property
    def alive(self) -> bool:
        """The thread runs: started, and neither stopped nor ended on its own (e.g. a refused device)."""
        return self._thread.is_alive()

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """Cut the current ``_pause`` short (the next one returns at once if none is under way)."""
        self._woken.set()

    def stop(self, timeout: float | None = None) -> bool:
        """Ask the thread to end and wait up to ``timeout`` s (``stop_timeout`` by default); False if it is still
        running (it is a daemon). From the thread itself (a callback deciding to stop) it only asks."""
        self.request_stop()
        return self.join(timeout)

    def request_stop(self) -> None:
        """Ask the thread to end without waiting: to stop several workers, ask them all, then ``join`` each, so
        their last steps overlap instead of adding up."""
        self._stopping.set()
        self.wake()

    def join(self, timeout: float | None = None) -> bool:
        """Wait up to ``timeout`` s (``stop_timeout`` by default) for the thread to end; False if it still runs."""
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(self.stop_timeout if timeout is None else timeout)
        return not self._thread.is_alive()

    def _pause(self, seconds: float | None = None) -> bool:
        """Sleep until ``wake()``, ``stop()`` or ``seconds`` passed; True when the thread should end."""
        self._woken.wait(seconds)
        self._woken.clear()
        return self._stopping.is_set()

    def _run(self) -> None:
        raise NotImplementedError

    def _main(self) -> None:
        try:
            self._run()
        except Exception:  # the thread's last resort: what ended it must reach the log, not vanish
            log.exception("thread %s ended by an error", self._thread.name)
