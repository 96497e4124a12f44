"""The running agent: the sampler plus everything that talks to the server, and the control channel.

``AgentService`` owns the threads besides the sampler's: uploads (``SyncScheduler``), presence pushes
(``PresencePusher``), the live team connection (``LiveConnection``) and the control channel that ``staffpulse
sync-now`` / ``status`` / ``break`` / ``pause`` reach (each a ``sync.worker.Worker``). ``GET /me`` (the user,
team, this device and the team's policy) is read in one place, the live connection, at every connect (and
while the socket is down, at polls until one succeeded); ``Connected.me`` caches the last answer. An admin's
change of the policy reaches a running agent at its next reconnect. The service enforces the policy: a pause is
refused unless the team allows it, and a pause in progress ends when the policy stops allowing it. Without a
server or a token it still samples and answers ``status``, saying the device is not enrolled; minutes wait in
the outbox until it is (``attach`` connects a device enrolled while the agent runs).

A front end (the tray app in ``ui/``) hears about changes through ``Listeners``. Every listener runs on the
thread that produced the change (the sampler's, the uploader's, the live connection's), never the caller's:
a Qt front end hands them to its GUI thread with signals. A front end that can ask the person (``Listeners.
idle_return``) makes the sampler hold idle minutes until they say what the spell was (``agent.returning``).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from agent.assembly import Sampler
from agent.footprint import own_footprint
from agent.returning import IdleAnswer, IdleReturn
from agent.states import PresenceChange, WorkState
from protocol.defaults import SYNC_INTERVAL_S
from protocol.schema import DeviceEnrolledEvent, Me, PresenceUpdate
from sync.api import ApiClient
from sync.control import ControlServer
from sync.credentials import CredentialStore
from sync.errors import SyncError
from sync.live import LinkState, LiveConnection, LiveStatus, TeamSnapshot, device_notice
from sync.presence_push import PresencePusher
from sync.settings import AgentSettings, Effective, decide
from sync.uploader import SyncScheduler, SyncStatus, Uploader, open_minute_note
from sync.worker import ignore

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


@dataclasses.dataclass(frozen=True)
class Listeners:
    """What a front end hears from the running agent; each runs on the thread that produced it (keep it short)."""

    state: Callable[[PresenceChange], None] = ignore  # the user's own work state changed
    sync: Callable[[SyncStatus], None] = ignore  # an upload run ended
    link: Callable[[LiveStatus], None] = ignore  # the live connection's state changed
    team: Callable[[TeamSnapshot], None] = ignore  # the team view changed (a full read or one live event)
    ready: Callable[[bool], None] = ignore  # the sampler runs and the control channel answers; enrolled or not
    me: Callable[[Me], None] = ignore  # ``GET /me`` was read (user, team, device, policy): at each connect
    show: Callable[[], None] | None = None  # the ``show`` control command; None when there is no window
    #: Back from an idle spell: ask the person what it was and call ``AgentService.answer_idle``. None (headless)
    #: when no one can be asked: idle minutes are then never held.
    idle_return: Callable[[IdleReturn], None] | None = None
    idle_settled: Callable[[IdleAnswer | None], None] = ignore  # the answer applied (None: no answer, kept idle)
    device_enrolled: Callable[[DeviceEnrolledEvent], None] = ignore  # another device was enrolled as this user


class Connected:
    """The parts that exist only once a server is configured.

    Each of the three threads that talk to the server (uploader, presence pusher, live connection) has its own
    ``ApiClient`` and so its own ``requests.Session`` (the rule: sync/api.py); ``stop`` closes them.
    """

    def __init__(self, sampler: Sampler, server_url: str, token: Callable[[], str | None], *, ca_bundle: str | None,
                 sync_interval_s: float, listeners: Listeners = Listeners()) -> None:
        uploads, pushes, reads = (ApiClient(server_url, token, ca_bundle=ca_bundle) for _ in range(3))
        self._clients = (uploads, pushes, reads)
        self._server = (server_url, token, ca_bundle)
        self._sampler, self._listeners = sampler, listeners
        self.me: Me | None = None  # the last ``GET /me``: None until the live connection read it once
        self.sync_done = threading.Condition()
        self.sync_status = SyncStatus(pending=sampler.outbox.pending_count())
        self.live = LiveConnection(server_url, token, reads, ca_bundle=ca_bundle, on_status=self._link_changed,
                                   on_snapshot=listeners.team, on_change=listeners.team,
                                   on_device_enrolled=listeners.device_enrolled, on_me=self._me_read)
        self.scheduler = SyncScheduler(Uploader(sampler.outbox, uploads, on_sent=self.live.uploaded),
                                       interval_s=sync_interval_s, on_status=self._synced)
        self.pusher = PresencePusher(pushes)

    def new_client(self) -> ApiClient:
        """A client of its own for a one-off read on another thread (the window's team day, ``ui.worker``): the
        caller closes it."""
        server_url, token, ca_bundle = self._server
        return ApiClient(server_url, token, ca_bundle=ca_bundle)

    def _me_read(self, me: Me) -> None:
        log.info("team policy: pause %s", "allowed" if me.policy.pause_allowed else "not allowed")
        self.me = me
        self._listeners.me(me)

    def _synced(self, status: SyncStatus) -> None:
        with self.sync_done:
            self.sync_status = status
            self.sync_done.notify_all()
        log.info("sync: %s (%d pending)", status.summary(), status.pending)
        self._listeners.sync(status)

    def _link_changed(self, status: LiveStatus) -> None:
        log.info("live connection %s%s", status.state, f" (refused: {status.refused})" if status.refused else "")
        if status.state is LinkState.LIVE:
            self.pusher.connection_restored()
        self._listeners.link(status)

    def start(self) -> None:
        self.scheduler.start()
        self.pusher.start()
        self.live.start()

    def stop(self, *, flush: bool = True) -> None:
        """Stop the three threads at once (their last steps overlap: a Quit waits for the slowest, not the sum),
        then close the clients of those that ended (one still running keeps its Session until it ends).

        With ``flush`` (a Quit) one last upload leaves behind the minute the sampler's stop wrote (it must have
        stopped first): a restart within that minute continues it, and the next start uploads it at once.
        Without (a new enrollment replaces this one) the minutes wait for the connection that replaces it."""
        self.live.request_stop()
        self.pusher.request_stop()
        self.scheduler.request_stop(flush=flush, before=self._sampler.runner.stopped_minute)
        for worker, client in zip((self.scheduler, self.pusher, self.live), self._clients, strict=True):
            if worker.join():
                client.close()

    def sync_now(self, timeout: float = SYNC_NOW_TIMEOUT_S) -> tuple[SyncStatus, datetime]:
        """Run an upload at once and wait for its result (one more follows when the open minute closed); with
        when it was asked, for ``sync_now_summary``."""
        with self.sync_done:
            before = self.sync_status
            asked = self.scheduler.sync_now(quick=self.live.status.state is not LinkState.LIVE)
            self.sync_done.wait_for(lambda: self.sync_status is not before, timeout)
            return self.sync_status, asked


def sync_now_summary(status: SyncStatus, asked: datetime, zone: tzinfo | None = None) -> str:
    """The result of a Sync Now asked at ``asked`` in words, and the minute then in progress, which it did not
    send (closed minutes only go): from the time it was asked, not the time the result came. It ends with when
    the run checked, to the second, so a second click whose result reads the same still visibly answers."""
    checked = (status.last_attempt or asked).astimezone(zone)
    return f"{status.summary(zone)}. {open_minute_note(asked, zone)} (checked at {checked:%H:%M:%S})"


ConnectedFactory = Callable[[Sampler, Listeners], Connected]


def connector(settings: AgentSettings) -> ConnectedFactory | None:
    """How to build the server side for these settings; None without a server or a stored token."""
    if settings.server_url is None:
        log.warning("no server configured")
        return None
    url = settings.server_url
    token = CachedToken(CredentialStore(), url)
    try:
        if token() is None:
            return None
    except SyncError as exc:
        log.error("%s", exc)
        return None

    def connected(sampler: Sampler, listeners: Listeners) -> Connected:
        return Connected(sampler, url, token, ca_bundle=settings.ca_bundle, sync_interval_s=SYNC_INTERVAL_S,
                         listeners=listeners)

    return connected


class AgentService:
    def __init__(self, data_dir: Path, connected: ConnectedFactory | None,
                 listeners: Listeners = Listeners(), *, settings: Effective | None = None) -> None:
        """``connected`` builds the server side once the sampler exists; None when not enrolled. ``settings``:
        the person's with IT's policy applied, and the fields it locked, which the team's policy does not
        change (``sync.settings.decide``)."""
        self._data_dir, self._settings = data_dir, settings or Effective(AgentSettings())
        self._make_connected = connected
        self._front = listeners  # the front end's own listeners
        # What the server side calls: the front end's, except that ``/me`` reads pass through the service first.
        self._listeners = dataclasses.replace(listeners, me=self._me_changed)
        self._connected: Connected | None = None
        self._state: PresenceChange | None = None
        self._attach_lock = threading.Lock()

    @property
    def connected(self) -> Connected | None:
        return self._connected

    @property
    def sampler(self) -> Sampler:
        return self._sampler

    def _changed(self, change: PresenceChange) -> None:
        self._state = change
        if self._connected is not None:
            self._push(self._connected, change)
        self._listeners.state(change)

    @staticmethod
    def _push(connected: Connected, change: PresenceChange) -> None:
        connected.pusher.submit(PresenceUpdate(state=change.reported, since=change.since, seq=change.seq))

    def _me_changed(self, me: Me) -> None:
        """The team's policy, read at each connect, in force at once: the idle threshold (unless IT's policy
        sets it), the upload interval, whether a pause may go on."""
        decided = decide(self._settings.settings, self._settings.locked, me.policy)
        self._sampler.runner.request_idle_threshold(decided.idle_threshold_s.value)
        if (connected := self._connected) is not None:
            connected.scheduler.set_interval(decided.sync_interval_s.value)
        if not me.policy.pause_allowed and self._state is not None and self._state.paused:
            log.info("the team's policy no longer allows pausing: tracking resumes")
            self._sampler.runner.request_pause(False)
        self._front.me(me)

    def settings_changed(self, settings: Effective) -> None:
        """The person saved new settings: their idle threshold is in force at once unless IT or the team
        decided it (the team's policy as last read)."""
        self._settings = settings
        connected = self._connected
        team = connected.me.policy if connected is not None and connected.me is not None else None
        self._sampler.runner.request_idle_threshold(
            decide(settings.settings, settings.locked, team).idle_threshold_s.value)

    def _idle_settled(self, answer: IdleAnswer | None) -> None:
        """Held minutes were released: send them now rather than at the next scheduled upload."""
        self.request_sync()
        self._front.idle_settled(answer)

    def run(self, sampler_factory: Callable[[Callable[[PresenceChange], None]], Sampler],
            stop: threading.Event) -> None:
        """Open the sampler (handing it our change callback), start the network side, sample until ``stop``."""
        sampler = sampler_factory(self._changed)
        self._sampler = sampler
        if self._front.idle_return is not None:
            sampler.runner.ask_on_return(self._front.idle_return, self._idle_settled)
        if self._make_connected is not None:
            self.attach(self._make_connected)
        else:
            log.warning("not enrolled: tracking only; run 'staffpulse enroll' to start uploading")
        control = ControlServer(self._data_dir, self.handle)
        control.start()
        self._listeners.ready(self._connected is not None)
        try:
            sampler.run(stop)
        finally:
            control.close()
            with self._attach_lock:
                if self._connected is not None:
                    self._connected.stop()
            sampler.close()

    def attach(self, make_connected: ConnectedFactory) -> None:
        """Start the server side for the stored enrollment: at start, and again right after enrolling in the tray
        app. A server side that already runs is stopped first, unflushed: it holds the token read before (one
        the server may have revoked, which ends its live connection for good) and perhaps another server, so a
        new enrollment works at once, without a restart."""
        with self._attach_lock:
            previous, self._connected = self._connected, None
            if previous is not None:
                log.info("a new enrollment replaces the running connection")
                previous.stop(flush=False)
            self._connected = make_connected(self._sampler, self._listeners)
            self._connected.start()
            if self._state is not None:  # the state of before the enrollment: the team must not guess it
                self._push(self._connected, self._state)

    def request_sync(self) -> datetime | None:
        """Ask for an upload without waiting; the result reaches ``Listeners.sync``. When it was asked (for
        ``sync_now_summary``), or None when not enrolled."""
        if self._connected is None:
            return None
        return self._connected.scheduler.sync_now(quick=self._connected.live.status.state is not LinkState.LIVE)

    def request_break(self, on: bool) -> None:
        """Start or end a declared break at the next sample; the change reaches ``Listeners.state``."""
        self._sampler.runner.request_break(on)

    @property
    def pause_allowed(self) -> bool:
        """The team's policy allows pausing; False until the policy was read (unknown is not allowed)."""
        me = self._connected.me if self._connected is not None else None
        return me is not None and me.policy.pause_allowed

    def request_pause(self, on: bool) -> str | None:
        """Pause or resume tracking at the next sample; the refusal in words when the policy does not allow a
        pause (resuming is always allowed)."""
        if on and not self.pause_allowed:
            if self._connected is None or self._connected.me is None:
                return "cannot pause: your team's policy has not been read from the server yet"
            return "pausing is not allowed by your team's policy"
        self._sampler.runner.request_pause(on)
        return None

    def answer_idle(self, answer: IdleAnswer) -> None:
        """The person's answer to ``Listeners.idle_return``; applied by the sampler, then uploaded."""
        self._sampler.runner.answer_idle(answer)

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        """Answer the control channel: ``status``, ``sync-now``, ``break`` / ``pause`` (``on``: bool), ``show``."""
        command = request.get("command")
        if command == "show":
            if self._listeners.show is None:
                return {"ok": False, "error": "the agent runs headless: there is no window to show"}
            self._listeners.show()
            return {"ok": True}
        if command == "status":
            return {"ok": True, **self.status()}
        if command == "sync-now":
            if self._connected is None:
                return {"ok": False, "error": "not enrolled: run 'staffpulse enroll' first"}
            status, asked = self._connected.sync_now()
            return {"ok": status.last_error is None, "summary": sync_now_summary(status, asked),
                    "pending": status.pending, "error": status.last_error}
        if command == "break":
            self.request_break(bool(request.get("on")))
            return {"ok": True}
        if command == "pause":
            refusal = self.request_pause(bool(request.get("on")))
            return {"ok": True} if refusal is None else {"ok": False, "error": refusal}
        return {"ok": False, "error": f"unknown command {command!r}"}

    def status(self) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "state": self._state.reported if self._state else WorkState.ACTIVE.value,
            "since": self._state.since.isoformat() if self._state else None,
            "paused": self._state.paused if self._state else False, "pause_allowed": self.pause_allowed,
            "pending": self._sampler.outbox.pending_count(), "set_aside": self._sampler.outbox.set_aside_reasons(),
            "enrolled": self._connected is not None, **dataclasses.asdict(own_footprint())}
        # Only when there is something to tell: a damaged outbox moved aside at start, a disk that is full now.
        if self._sampler.notice is not None:
            answer["notice"] = self._sampler.notice
        if self._sampler.runner.write_error is not None:
            answer["outbox_error"] = self._sampler.runner.write_error
            answer["minutes_in_memory"] = self._sampler.runner.minutes_in_memory
        if self._connected is not None:
            sync, live = self._connected.sync_status, self._connected.live.status
            answer |= {"sync": sync.summary(), "last_sync": sync.last_success.isoformat() if sync.last_success
                       else None, "connection": live.state.value, "refused": live.refused}
            if enrolled := self._connected.live.devices_enrolled:
                answer["new_devices"] = [device_notice(event) for event in enrolled]
        return answer
