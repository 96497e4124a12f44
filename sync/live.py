"""The live team view: a socket.io connection that keeps a ``TeamModel`` current, with REST as the truth.

Delivery on the socket is at most once, so the socket only carries changes. After every (re)connect the team
view and today's own totals are re-read over REST and delivered as a full snapshot; events that arrive while
that read is in flight wait and are applied after it, so an older read never overwrites a newer event. While
the socket is down the team view is polled, so the UI stays roughly current behind a proxy that blocks
sockets or during a long outage.

The connection loop is ours, not python-socketio's reconnection: a refused token must end retrying (python-
socketio's loop cannot be stopped from its own ``connect_error`` handler), and retries follow the agent's one
backoff rule (``sync.backoff``). Each attempt tries a websocket first and falls back to long polling:
python-socketio itself only ever tries the first transport listed.

Threads: callbacks run on socket.io threads, the connection thread or the poll thread — never the caller's.
They run one at a time, in order, under the connection's lock: keep them short (a Qt adapter emits a signal)
and do not call ``stop()`` from one. python-socketio handles each incoming message on its own thread, so two
events a few milliseconds apart may apply in either order; the next snapshot corrects that.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import random
import threading
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import requests
import socketio
from pydantic import BaseModel, ValidationError

from protocol.schema import (
    DayReport,
    DeviceEnrolledEvent,
    PerformanceEvent,
    PresenceEvent,
    TeamMember,
    TeamPublic,
    TeamView,
    Totals,
)
from sync.api import ApiClient
from sync.backoff import Reconnect, jittered
from sync.errors import NotEnrolled, SyncError
from sync.uploader import utc_now

log = logging.getLogger(__name__)

SOCKET_PATH = "/api/socket"
POLL_INTERVAL_S = 30.0
#: How long ``connect()`` waits for the server to accept the namespace. The server's connect handler checks
#: the token and refreshes presence in the database; after a restart, with every agent reconnecting at once,
#: that takes well over python-socketio's default of 1 s, which then fails an accepted connection with "One
#: or more namespaces failed to connect" and starts the next attempt, adding to the load.
CONNECT_WAIT_S = 10.0
#: Websocket first; long polling when that fails. The fallback does not try to upgrade: the websocket just
#: failed, and a proxy that strips the upgrade headers turns the upgrade request into a plain poll that eats
#: the server's answer to the namespace connect.
TRANSPORT_ORDER = (["websocket"], ["polling"])
#: Codes of the server's refusals of a token (``data.code`` of ``connect_error``, server/live.py). Anything else —
#: a timeout, a proxy's 502, a server still starting, too many sockets — is worth retrying; these never are until
#: the device is enrolled again.
TOKEN_REFUSAL_CODES = frozenset({"missing_token", "unknown_token", "revoked"})
#: Their words (server/auth.py), for older servers whose refusals carry no code.
TOKEN_REFUSALS = ("missing token", "unknown token", "revoked", "belongs to no user")

#: ``device-enrolled`` events kept for ``staffpulse status`` (the newest).
DEVICES_KEPT = 10

Event = TypeVar("Event", bound=BaseModel)


def device_notice(event: DeviceEnrolledEvent) -> str:
    """``device-enrolled`` in words, for the tray and ``staffpulse status``."""
    how = {"code": "a personal code", "key": f"deployment key {event.key_name!r}" if event.key_name
           else "a deployment key"}.get(event.enrolled_via, event.enrolled_via)
    approved = f", approved {event.approved_at:%Y-%m-%d %H:%M} UTC" if event.approved_at else ""
    return (f"A new device was enrolled as you: {event.name!r} ({event.platform}) with {how} on "
            f"{event.enrolled_at:%Y-%m-%d %H:%M} UTC{approved}. If it is not yours, tell your admin.")


class LinkState(enum.StrEnum):
    LIVE = "live"  # socket connected and the snapshot read after connecting delivered
    RECONNECTING = "reconnecting"  # trying; the team view is polled meanwhile
    OFFLINE = "offline"  # not started, stopped, or the server refused this device (``LiveStatus.refused``)


@dataclasses.dataclass(frozen=True)
class LiveStatus:
    state: LinkState = LinkState.OFFLINE
    last_update: datetime | None = None  # when a snapshot or an event last changed the team model
    refused: str | None = None  # the server's reason for refusing this device; no retrying until enrolled again


@dataclasses.dataclass(frozen=True)
class TeamSnapshot:
    """What the UI shows: the team, each member's state (and totals for managers), and the reader's own day."""

    team: TeamPublic
    members: tuple[TeamMember, ...]
    own_date: date
    own_totals: Totals
    updated: datetime


class TeamModel:
    """The team as last read plus the live events since; pure, so the rules are testable without a network.

    Not thread-safe: ``LiveConnection`` holds its lock around every call. The ``apply_*`` methods return
    False when the event cannot be placed (nothing loaded yet, or a user the last read did not list, such as
    a newly enrolled teammate): the caller then re-reads the team view.
    """

    def __init__(self) -> None:
        self._team: TeamPublic | None = None
        self._members: dict[int, TeamMember] = {}
        self._totals_date: dict[int, date] = {}
        self._own: tuple[date, Totals] | None = None

    def load(self, view: TeamView, own_day: DayReport) -> None:
        self._team = view.team
        self._members = {member.user_id: member for member in view.members}
        self._totals_date = dict.fromkeys(self._members, view.date)
        self._own = (own_day.date, own_day.totals)

    def apply_presence(self, event: PresenceEvent) -> bool:
        member = self._members.get(event.user_id)
        if member is None:
            return False
        self._members[event.user_id] = member.model_copy(update={"state": event.state, "since": event.since})
        return True

    def apply_member_totals(self, event: PerformanceEvent) -> bool:
        """``team-performance-update`` (managers only): a member's totals for their local ``date``."""
        member = self._members.get(event.user_id)
        if member is None:
            return False
        if event.date >= self._totals_date[event.user_id]:  # a late upload for yesterday must not replace today
            self._members[event.user_id] = member.model_copy(update={"totals": event.totals})
            self._totals_date[event.user_id] = event.date
        return True

    def apply_own_totals(self, event: PerformanceEvent) -> bool:
        """``performance-update``: the reader's own totals; a newer date means local midnight passed."""
        if self._own is None:
            return False
        if event.date >= self._own[0]:
            self._own = (event.date, event.totals)
        return True

    def snapshot(self, updated: datetime) -> TeamSnapshot:
        if self._team is None or self._own is None:
            raise RuntimeError("TeamModel.snapshot() before load()")
        return TeamSnapshot(team=self._team, members=tuple(self._members.values()), own_date=self._own[0],
                            own_totals=self._own[1], updated=updated)


def _ignore(_value: object) -> None:
    pass


class LiveConnection:
    """Keeps a ``TeamModel`` current over socket.io and REST; ``start()`` it once, ``stop()`` it on quit.

    ``on_snapshot`` gets the model after every full REST read (after a connect, and each poll while the
    socket is down), ``on_change`` after each live event, ``on_status`` when the state or refusal changes,
    ``on_device_enrolled`` when the server says another device was enrolled as this user (``device-enrolled``;
    the newest are kept in ``devices_enrolled``).
    ``time_zone`` is the user's IANA zone that decides "today"; when None it is read from ``api.me()``.
    """

    def __init__(self, server_url: str, token: Callable[[], str | None], api: ApiClient, *,
                 now: Callable[[], datetime] = utc_now, time_zone: str | None = None,
                 on_snapshot: Callable[[TeamSnapshot], None] = _ignore,
                 on_change: Callable[[TeamSnapshot], None] = _ignore,
                 on_status: Callable[[LiveStatus], None] = _ignore,
                 on_device_enrolled: Callable[[DeviceEnrolledEvent], None] = _ignore,
                 poll_interval_s: float = POLL_INTERVAL_S, retry_base_s: float = 1.0, retry_cap_s: float = 60.0,
                 ca_bundle: str | None = None, rng: random.Random | None = None) -> None:
        self._url, self._token, self._api, self._now = server_url.rstrip("/"), token, api, now
        self._zone = ZoneInfo(time_zone) if time_zone else None
        self._on_snapshot, self._on_change, self._on_status = on_snapshot, on_change, on_status
        self._on_device_enrolled = on_device_enrolled
        self._devices_enrolled: list[DeviceEnrolledEvent] = []
        self._own_device: int | None = None  # from ``api.me()``: this device's own announcement is no news
        self._early: list[DeviceEnrolledEvent] = []  # heard before ``api.me()`` said which device this is
        self._poll_interval, self._retry_base, self._retry_cap, self._rng = (
            poll_interval_s, retry_base_s, retry_cap_s, rng)
        self._lock = threading.RLock()  # re-entrant: a callback may read ``status``
        self._model = TeamModel()
        self._status = LiveStatus()
        self._pending: list[Callable[[TeamModel], bool]] | None = None  # events held back during a REST read
        self._up = False  # the socket's namespace is connected
        self._resync_wanted = False
        self._refusal: str | None = None  # set by ``connect_error`` during an attempt
        self._halt = threading.Event()  # stop() or a refused token: every loop ends
        self._wake = threading.Event()  # the connected wait: dropped, halted or a re-read wanted
        # A session of its own (a requests.Session is not thread-safe); it carries the CA bundle to websockets.
        session = requests.Session()
        session.verify = ca_bundle or True
        # No SIGINT handler of python-socketio's: the application owns Ctrl+C.
        self._sio = socketio.Client(reconnection=False, http_session=session, handle_sigint=False)
        self._sio.on("connect", self._on_connect)
        self._sio.on("disconnect", self._on_disconnect)
        self._sio.on("connect_error", self._on_connect_error)
        self._sio.on("presence", lambda data: self._handle(data, PresenceEvent, TeamModel.apply_presence))
        self._sio.on("performance-update",
                     lambda data: self._handle(data, PerformanceEvent, TeamModel.apply_own_totals))
        self._sio.on("team-performance-update",
                     lambda data: self._handle(data, PerformanceEvent, TeamModel.apply_member_totals))
        self._sio.on("device-enrolled", self._device_enrolled)
        self._thread = threading.Thread(target=self._run, name="live-connection", daemon=True)
        self._poller = threading.Thread(target=self._poll, name="live-poll", daemon=True)

    @property
    def status(self) -> LiveStatus:
        with self._lock:
            return self._status

    @property
    def devices_enrolled(self) -> tuple[DeviceEnrolledEvent, ...]:
        """Other devices enrolled as this user since the agent started, oldest first."""
        with self._lock:
            return tuple(self._devices_enrolled)

    @property
    def transport(self) -> str | None:
        """``websocket`` or ``polling`` while connected (for diagnostics)."""
        return str(self._sio.transport()) if self._up else None

    def start(self) -> None:
        self._set_status(state=LinkState.RECONNECTING)
        self._thread.start()
        self._poller.start()

    def stop(self, timeout: float = 15.0) -> None:
        """Disconnect and end both threads; an attempt in progress finishes first (at most ``CONNECT_WAIT_S``)."""
        self._halt.set()
        self._wake.set()
        for thread in (self._thread, self._poller):
            if thread.is_alive():
                thread.join(timeout)
        self._set_status(state=LinkState.OFFLINE)

    # --- the connection thread -------------------------------------------------------------------------------

    def _run(self) -> None:
        retry = Reconnect(base=self._retry_base, cap=self._retry_cap, rng=self._rng)
        try:
            while not self._halt.is_set():
                if self._session():
                    retry.dropped()
                if self._halt.is_set():
                    break
                self._set_status(state=LinkState.RECONNECTING)
                delay = retry.delay()
                log.info("live connection down; next attempt in %.1f s", delay)
                self._halt.wait(delay)
        finally:
            self._close()

    def _close(self) -> None:
        """The last disconnect, without waiting out a long poll.

        python-engineio's polling client can drop its CLOSE packet and then waits for its pending poll to time
        out (the server's ping interval + 5 s), which would hold up ``stop()``. Abandoning that poll is safe
        here because this client never connects again; the server ends the session at its next ping.
        """
        if self._up and self._sio.transport() == "polling":
            self._sio.eio.disconnect(abort=True)
        self._sio.disconnect()

    def _session(self) -> bool:
        """Connect, re-read, then follow events until the socket drops. True if it got live."""
        if not self._token():
            self._refuse("this device is not enrolled")
            return False
        with self._lock:
            self._pending = []
        self._refusal = None
        self._wake.clear()  # before connecting, so a drop right after the connect is not missed
        try:
            if not self._connect():
                return False
            self._resync()
            if self._up:
                self._set_status(state=LinkState.LIVE)
            while True:
                self._wake.wait()
                self._wake.clear()
                if self._halt.is_set() or not self._up:
                    return True
                if self._resync_wanted:
                    self._resync()
        except NotEnrolled as exc:
            self._refuse(str(exc))
            return False
        except SyncError as exc:
            log.warning("cannot read the team view after connecting: %s", exc)
            self._sio.disconnect()
            return False
        finally:
            with self._lock:
                self._pending = None

    def _connect(self) -> bool:
        for transports in TRANSPORT_ORDER:
            try:
                self._sio.connect(self._url, auth=self._auth, transports=transports, socketio_path=SOCKET_PATH,
                                  wait_timeout=CONNECT_WAIT_S)
                return True
            except (socketio.exceptions.ConnectionError, ValueError) as exc:
                if self._refusal is not None:
                    self._refuse(self._refusal)
                    return False
                log.info("live connection over %s failed: %s", transports[0], exc)
        return False

    def _resync(self) -> None:
        """Re-read over REST while holding events back, then apply the read and the held events in order."""
        with self._lock:
            self._resync_wanted = False
            if self._pending is None:
                self._pending = []
        self._read_me()
        view, day = self._read()
        with self._lock:
            self._model.load(view, day)
            held, self._pending = self._pending or [], None
            for change in held:
                change(self._model)
            self._deliver(self._on_snapshot)

    def _read(self) -> tuple[TeamView, DayReport]:
        """The team and today over REST (reading ``/me`` first if the user's zone is not known yet)."""
        if self._zone is None:
            self._read_me()
        assert self._zone is not None
        return self._api.team(), self._api.day(self._now().astimezone(self._zone).date())

    def _read_me(self) -> None:
        """From ``/me``: the user's zone (unless given), this device's id, and the devices enrolled as this user
        since it was (``Me.new_devices``): the server announces a new device once, maybe while this one was
        away, so this runs at every connect."""
        me = self._api.me()
        with self._lock:
            if self._zone is None:
                self._zone = ZoneInfo(me.user.time_zone)
            self._own_device = me.device_id
            early, self._early = self._early, []
            for event in [*early, *me.new_devices]:
                self._note_device(event)

    def _auth(self) -> dict[str, str]:
        """Called by python-socketio at every attempt, so a re-enrolled device's new token is used."""
        return {"token": self._token() or ""}

    def _refuse(self, reason: str) -> None:
        log.warning("live connection refused: %s", reason)
        self._set_status(state=LinkState.OFFLINE, refused=reason)
        self._halt.set()
        self._wake.set()

    # --- the poll thread -------------------------------------------------------------------------------------

    def _poll(self) -> None:
        while not self._halt.wait(jittered(self._poll_interval, rng=self._rng)):
            if self.status.state is LinkState.LIVE:
                continue
            try:
                view, day = self._read()
            except NotEnrolled as exc:
                self._refuse(str(exc))
            except SyncError as exc:
                log.debug("team view poll failed: %s", exc)
            else:
                with self._lock:  # a reconnect's read in flight or done is newer than this one
                    if self._status.state is not LinkState.LIVE and self._pending is None:
                        self._model.load(view, day)
                        self._deliver(self._on_snapshot)

    # --- socket.io handlers (each on a thread of python-socketio's) ------------------------------------------

    def _on_connect(self) -> None:
        self._up = True

    def _on_disconnect(self, _reason: object = None) -> None:
        self._up = False
        self._wake.set()
        if not self._halt.is_set():
            self._set_status(state=LinkState.RECONNECTING)

    def _on_connect_error(self, data: Any = None) -> None:
        """A namespace refusal carries ``{"message": …, "data": {"code": …}}`` (older servers: no ``data``); a
        transport failure only a string. The code decides; the words only when there is none."""
        message = data.get("message") if isinstance(data, dict) else None
        if not isinstance(message, str):
            return
        details = data.get("data") if isinstance(data, dict) else None
        code = details.get("code") if isinstance(details, dict) else None
        if isinstance(code, str):
            final = code in TOKEN_REFUSAL_CODES
        else:
            final = any(words in message for words in TOKEN_REFUSALS)
        if final:
            self._refusal = message

    def _handle(self, data: Any, kind: type[Event], apply: Callable[[TeamModel, Event], bool]) -> None:
        try:
            event = kind.model_validate(data)
        except ValidationError as exc:
            log.warning("ignored a malformed %s event: %s", kind.__name__, exc)
            return

        def change(model: TeamModel) -> bool:
            return apply(model, event)

        with self._lock:
            if self._pending is not None:
                self._pending.append(change)
            elif change(self._model):
                self._deliver(self._on_change)
            else:
                self._resync_wanted = True
                self._wake.set()

    def _device_enrolled(self, data: Any) -> None:
        try:
            event = DeviceEnrolledEvent.model_validate(data)
        except ValidationError as exc:
            log.warning("ignored a malformed device-enrolled event: %s", exc)
            return
        with self._lock:
            if self._own_device is None:
                self._early = [*self._early, event][-DEVICES_KEPT:]
            else:
                self._note_device(event)

    def _note_device(self, event: DeviceEnrolledEvent) -> None:
        """Record and pass on another device's enrollment, once however often the server tells of it (under the
        lock)."""
        if event.device_id == self._own_device or any(
                known.device_id == event.device_id for known in self._devices_enrolled):
            return
        log.warning("%s", device_notice(event))
        self._devices_enrolled = [*self._devices_enrolled, event][-DEVICES_KEPT:]
        self._on_device_enrolled(event)

    # --- state, under the lock ------------------------------------------------------------------------------

    def _deliver(self, callback: Callable[[TeamSnapshot], None]) -> None:
        updated = self._now()
        self._set_status(last_update=updated)
        callback(self._model.snapshot(updated))

    def _set_status(self, **changes: Any) -> None:
        with self._lock:
            if self._status.refused is not None:  # a refusal is final for this connection
                changes.pop("state", None)
            old, self._status = self._status, dataclasses.replace(self._status, **changes)
            if (old.state, old.refused) != (self._status.state, self._status.refused):
                self._on_status(self._status)
