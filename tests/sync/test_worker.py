"""``sync.worker.Worker``, the shape of every thread in sync/: named daemon, wake, bounded stop, and an
exception that ends the thread reaches the log."""

from __future__ import annotations

import logging
import threading

import pytest

from sync.worker import Worker


class Counter(Worker):
    """Counts its wake-ups until stopped; ``fail_at`` raises on that wake-up."""

    def __init__(self, fail_at: int | None = None) -> None:
        super().__init__("counter")
        self.woken, self.fail_at = 0, fail_at
        self.changed = threading.Condition()

    def _run(self) -> None:
        while not self._pause():
            with self.changed:
                self.woken += 1
                self.changed.notify_all()
            if self.woken == self.fail_at:
                raise RuntimeError("broken on purpose")


def test_a_worker_is_a_named_daemon_that_wakes_and_stops() -> None:
    worker = Counter()
    worker.start()
    assert worker.alive and worker._thread.daemon and worker._thread.name == "counter"
    for expected in (1, 2):
        worker.wake()
        with worker.changed:
            assert worker.changed.wait_for(lambda n=expected: worker.woken >= n, timeout=5)
    assert worker.stop(timeout=5)
    assert not worker.alive and worker.stopping


def test_stop_from_the_workers_own_thread_only_asks() -> None:
    stopped: list[bool] = []

    class SelfStopping(Worker):
        def _run(self) -> None:
            stopped.append(self.stop())  # no join on itself: it returns at once
            self._pause()

    worker = SelfStopping("self-stopping")
    worker.start()
    assert worker.stop(timeout=5) and stopped == [False]


def test_an_exception_that_ends_the_thread_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    worker = Counter(fail_at=1)
    worker.start()
    worker.wake()
    with worker.changed:
        assert worker.changed.wait_for(lambda: worker.woken == 1, timeout=5)
    assert worker.stop(timeout=5)
    assert "thread counter ended by an error" in caplog.text and "broken on purpose" in caplog.text
    assert [r.levelno for r in caplog.records] == [logging.ERROR]


class LastStep(Worker):
    """Its last step, once asked to stop, waits until ``other`` was asked too: stopped one after the other, the
    two would each wait out their whole step (Quit adding up every thread's); asked together, they overlap."""

    def __init__(self, other: threading.Event, asked: threading.Event) -> None:
        super().__init__("last-step")
        self._other, self._asked = other, asked

    def request_stop(self) -> None:
        self._asked.set()
        super().request_stop()

    def _run(self) -> None:
        while not self._pause():
            pass
        self._other.wait(timeout=30)


def test_workers_asked_together_end_together() -> None:
    first_asked, second_asked = threading.Event(), threading.Event()
    first, second = LastStep(second_asked, first_asked), LastStep(first_asked, second_asked)
    first.start()
    second.start()
    first.request_stop()
    second.request_stop()
    assert first.join(timeout=10) and second.join(timeout=10)
