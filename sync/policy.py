"""The team's policy for this agent (``GET /api/v1/me``), read on a thread of its own.

The policy (today: whether members may pause tracking) is set by an admin on the server, so the agent reads
it at start and again every time the live connection comes back: a change reaches running agents within one
reconnect, and a server that was down at start is asked once it is up. Until a read succeeded the policy is
unknown and nothing it would allow is allowed.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable

from protocol.schema import Me
from sync.api import ApiClient
from sync.backoff import backoff_delay
from sync.errors import NotEnrolled, SyncError

log = logging.getLogger(__name__)


class PolicyReader:
    """``refresh()`` asks for a read (never blocks); ``on_read`` gets each successful one on this thread."""

    def __init__(self, api: ApiClient, on_read: Callable[[Me], None], *, retry_cap_s: float = 60.0,
                 rng: random.Random | None = None) -> None:
        self._api, self._on_read, self._retry_cap, self._rng = api, on_read, retry_cap_s, rng
        self._wake = threading.Event()
        self._halt = threading.Event()
        self.me: Me | None = None
        self._thread = threading.Thread(target=self._run, name="policy", daemon=True)

    def start(self) -> None:
        self._wake.set()
        self._thread.start()

    def refresh(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._halt.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        failures = 0
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._halt.is_set():
                return
            try:
                me = self._api.me()
            except NotEnrolled as exc:  # the uploader and the live connection say so; retrying would not help
                log.warning("policy not read: %s", exc)
                continue
            except SyncError as exc:
                delay = backoff_delay(failures, cap=self._retry_cap, rng=self._rng)
                failures += 1
                log.info("policy not read (%s); retry in %.1f s", exc, delay)
                if self._halt.wait(delay):
                    return
                self._wake.set()
                continue
            failures = 0
            self.me = me
            self._on_read(me)
