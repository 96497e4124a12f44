"""Disk and network work off the GUI thread, with the result handed back through a signal.

One short-lived thread per job: jobs are rare (an enrollment, a look at the outbox, an idle answer handed to
the agent) and each blocks on I/O, so a pool would add nothing. A job that talks to the server builds its own
``ApiClient`` (one per thread, sync/api.py). The result — or the exception, for the caller to
show in words — arrives at ``done`` on the GUI thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from sync.errors import SyncError

log = logging.getLogger(__name__)


class _Relay(QObject):
    finished = Signal(object)


_in_flight: set[_Relay] = set()  # keeps each relay alive until its result is delivered


def background(work: Callable[[], Any], done: Callable[[Any], None], *, name: str) -> None:
    """Run ``work()`` on a thread; ``done(result_or_exception)`` then runs on the GUI thread."""
    relay = _Relay()
    _in_flight.add(relay)

    def deliver(result: object) -> None:
        _in_flight.discard(relay)
        done(result)

    relay.finished.connect(deliver)

    def run() -> None:
        try:
            result: object = work()
        except SyncError as exc:  # expected: no server, refused, not enrolled; the caller says so
            result = exc
        except Exception as exc:
            log.exception("%s failed", name)
            result = exc
        relay.finished.emit(result)

    threading.Thread(target=run, name=name, daemon=True).start()
