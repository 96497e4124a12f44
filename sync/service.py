"""The running agent: the sampler plus everything that talks to the server, and the control channel.

``AgentService`` owns the threads besides the sampler's: uploads (``SyncScheduler``), presence pushes
(``PresencePusher``), the live team connection (``LiveConnection``) and the control channel that
``staffpulse sync-now`` / ``status`` / ``break`` reach. Without a server or a token it still samples and
answers ``status``, saying the device is not enrolled; minutes wait in the outbox until it is.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent.assembly import Sampler
from agent.states import PresenceChange, WorkState
from protocol.schema import PresenceUpdate
from sync.api import ApiClient
from sync.control import ControlServer
from sync.credentials import CredentialStore
from sync.live import LinkState, LiveConnection, LiveStatus
from sync.presence_push import PresencePusher
from sync.uploader import SyncScheduler, SyncStatus, Uploader

log = logging.getLogger(__name__)

TOKEN_CACHE_S = 60.0  # a token enrolled while the agent runs is picked up within this long
SYNC_NOW_TIMEOUT_S = 120.0


class CachedToken:
    """The token from the keyring, re-read at most once a minute: keyrings can be slow, tokens rarely change."""

    def __init__(self, store: CredentialStore, server_url: str, clock: Callable[[], float] = time.monotonic) -> None:
        self._store, self._url, self._clock = store, server_url, clock
        self._value: str | None = None
        self._read_at: float | None = None
        self._lock = threading.Lock()

    def __call__(self) -> str | None:
        with self._lock:
            now = self._clock()
            if self._read_at is None or now - self._read_at >= TOKEN_CACHE_S:
                self._value, self._read_at = self._store.load(self._url), now
            return self._value


class Connected:
    """The parts that exist only once a server is configured."""

    def __init__(self, sampler: Sampler, server_url: str, token: CachedToken, *, ca_bundle: str | None,
                 sync_interval_s: float) -> None:
        self.api = ApiClient(server_url, token, ca_bundle=ca_bundle)
        self.sync_done = threading.Condition()
        self.sync_status = SyncStatus()
        self.scheduler = SyncScheduler(Uploader(sampler.outbox, self.api), interval_s=sync_interval_s,
                                       on_status=self._synced)
        self.pusher = PresencePusher(ApiClient(server_url, token, ca_bundle=ca_bundle))
        self.live = LiveConnection(server_url, token, ApiClient(server_url, token, ca_bundle=ca_bundle),
                                   ca_bundle=ca_bundle, on_status=self._link_changed)

    def _synced(self, status: SyncStatus) -> None:
        with self.sync_done:
            self.sync_status = status
            self.sync_done.notify_all()
        log.info("sync: %s (%d pending)", status.summary(), status.pending)

    def _link_changed(self, status: LiveStatus) -> None:
        log.info("live connection %s%s", status.state, f" (refused: {status.refused})" if status.refused else "")
        if status.state is LinkState.LIVE:
            self.pusher.connection_restored()

    def start(self) -> None:
        self.scheduler.start()
        self.pusher.start()
        self.live.start()

    def stop(self) -> None:
        self.live.stop()
        self.pusher.stop()
        self.scheduler.stop(flush=True)

    def sync_now(self, timeout: float = SYNC_NOW_TIMEOUT_S) -> SyncStatus:
        """Run an upload at once and wait for its result."""
        with self.sync_done:
            before = self.sync_status
            self.scheduler.sync_now()
            self.sync_done.wait_for(lambda: self.sync_status is not before, timeout)
            return self.sync_status


class AgentService:
    def __init__(self, data_dir: Path, connected: Callable[[Sampler], Connected] | None) -> None:
        """``connected`` builds the server side once the sampler exists; None when not enrolled."""
        self._data_dir = data_dir
        self._make_connected = connected
        self._connected: Connected | None = None
        self._state: PresenceChange | None = None

    def _changed(self, change: PresenceChange) -> None:
        self._state = change
        if self._connected is not None:
            self._connected.pusher.submit(PresenceUpdate(state=change.state.value, since=change.since,
                                                         seq=change.seq))

    def run(self, sampler_factory: Callable[[Callable[[PresenceChange], None]], Sampler],
            stop: threading.Event) -> None:
        """Open the sampler (handing it our change callback), start the network side, sample until ``stop``."""
        sampler = sampler_factory(self._changed)
        self._sampler = sampler
        if self._make_connected is not None:
            self._connected = self._make_connected(sampler)
            self._connected.start()
        else:
            log.warning("not enrolled: tracking only; run 'staffpulse enroll' to start uploading")
        control = ControlServer(self._data_dir, self.handle)
        control.start()
        try:
            sampler.run(stop)
        finally:
            control.close()
            if self._connected is not None:
                self._connected.stop()
            sampler.close()

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        """Answer the control channel: ``status``, ``sync-now``, ``break`` (``on``: bool)."""
        command = request.get("command")
        if command == "status":
            return {"ok": True, **self.status()}
        if command == "sync-now":
            if self._connected is None:
                return {"ok": False, "error": "not enrolled: run 'staffpulse enroll' first"}
            status = self._connected.sync_now()
            return {"ok": status.last_error is None, "summary": status.summary(), "pending": status.pending,
                    "error": status.last_error}
        if command == "break":
            self._sampler.runner.request_break(bool(request.get("on")))
            return {"ok": True}
        return {"ok": False, "error": f"unknown command {command!r}"}

    def status(self) -> dict[str, Any]:
        state = self._state.state if self._state else WorkState.ACTIVE
        answer: dict[str, Any] = {
            "state": state.value, "since": self._state.since.isoformat() if self._state else None,
            "pending": self._sampler.outbox.pending_count(), "set_aside": self._sampler.outbox.set_aside_reasons(),
            "enrolled": self._connected is not None}
        if self._connected is not None:
            sync, live = self._connected.sync_status, self._connected.live.status
            answer |= {"sync": sync.summary(), "last_sync": sync.last_success.isoformat() if sync.last_success
                       else None, "connection": live.state.value, "refused": live.refused}
        return answer
