"""Sends the agent's presence (active, break, idle, paused, away) to the server as it changes.

Only the newest state matters to the team, so there is no queue: ``submit`` replaces whatever has not been
sent yet, and after an outage exactly one update (the latest) goes out. Per failure:

- connection error, timeout, 5xx, 429: keep the latest update and retry with ``backoff_delay``
  (``Retry-After`` honoured), or at once when the live connection says the server is back;
- 401: stop pushing and report; the device needs enrollment, and retrying would only hammer the server;
- any other 4xx: this update can never succeed; log it and drop it (the next state is sent as usual).
"""

from __future__ import annotations

import dataclasses
import logging
import random
import threading
from collections.abc import Callable
from typing import Any

from protocol.schema import PresenceUpdate
from sync.api import ApiClient
from sync.backoff import backoff_delay
from sync.errors import NotEnrolled, Refused, Transient, in_words
from sync.worker import Worker, ignore

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class PushStatus:
    sent: PresenceUpdate | None = None  # the last update the server answered
    waiting: bool = False  # an update waits for the server to be reachable again
    last_error: str | None = None
    needs_enrollment: bool = False  # pushing has stopped for good


class PresencePusher(Worker):
    """One worker thread that sends the latest submitted presence; ``submit`` never blocks on the network.

    ``on_status`` runs on the worker thread after each attempt. It waits on its own condition rather than
    ``Worker._pause``: a new state during a retry wait must not cut the backoff short, only a restored
    connection or ``stop`` may. ``stop`` drops an unsent update (the server concludes ``offline`` on its own).
    """

    def __init__(self, api: ApiClient, *, on_status: Callable[[PushStatus], None] = ignore,
                 retry_base_s: float = 1.0, retry_cap_s: float = 60.0, rng: random.Random | None = None) -> None:
        super().__init__("presence-push")
        self._api, self._on_status = api, on_status
        self._retry_base, self._retry_cap, self._rng = retry_base_s, retry_cap_s, rng
        self._changed = threading.Condition()
        self._latest: PresenceUpdate | None = None
        self._restored = False
        self.status = PushStatus()

    def submit(self, update: PresenceUpdate) -> None:
        """Send ``update`` soon; it replaces an unsent older one."""
        with self._changed:
            self._latest = update
            self._changed.notify_all()

    def connection_restored(self) -> None:
        """The server is reachable again (the live socket connected): retry now instead of after the backoff."""
        with self._changed:
            self._restored = True
            self._changed.notify_all()

    def wake(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def _run(self) -> None:
        failures = 0
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._latest is not None or self.stopping)
                if self.stopping or self._latest is None:
                    return
                update, self._restored = self._latest, False
            try:
                self._api.put_presence(update)
            except Transient as exc:
                delay = backoff_delay(failures, base=self._retry_base, cap=self._retry_cap,
                                      retry_after=exc.retry_after, rng=self._rng)
                failures += 1
                log.info("presence not sent (%s); retry in %.1f s", exc, delay)
                self._report(waiting=True, last_error=in_words(exc))
                with self._changed:
                    self._changed.wait_for(lambda: self._restored or self.stopping, timeout=delay)
                continue
            except NotEnrolled as exc:
                log.warning("presence push stopped: %s", exc)
                self._report(waiting=False, last_error=in_words(exc), needs_enrollment=True)
                return
            except Refused as exc:
                log.warning("server refused presence %s (seq %d), dropped: %s", update.state, update.seq, exc)
                self._sent(update, last_error=in_words(exc))
            else:
                self._sent(update, sent=update, last_error=None)
            failures = 0

    def _sent(self, update: PresenceUpdate, **changes: Any) -> None:
        """``update`` is done with; a newer one submitted meanwhile stays to be sent."""
        with self._changed:
            if self._latest is update:
                self._latest = None
            waiting = self._latest is not None
        self._report(waiting=waiting, **changes)

    def _report(self, **changes: Any) -> None:
        self.status = dataclasses.replace(self.status, **changes)
        self._on_status(self.status)
