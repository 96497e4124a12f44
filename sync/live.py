"""The live team view: a socket.io connection that keeps a ``TeamModel`` current, with REST as the truth.

Delivery on the socket is at most once, so the socket only carries changes. After every (re)connect ``/me``,
the team view and today's own day are re-read over REST and delivered as a full snapshot; events that arrive
while that read is in flight wait and are applied after it, so an older read never overwrites a newer event.
While the socket is down the team view is polled, so the UI stays roughly current behind a proxy that blocks
sockets or during a long outage. The agent's own uploads reach the model directly (``uploaded``): the day is
never read back after one.

The connection loop is ours, not python-socketio's reconnection: a refused token must end retrying (python-
socketio's loop cannot be stopped from its own ``connect_error`` handler), and retries follow the agent's one
backoff rule (``sync.backoff``). Each attempt tries a websocket first and falls back to long polling:
python-socketio itself only ever tries the first transport listed. A refusal is decided by its code
(``protocol.refusals``), never its words: a ``FINAL`` code stops the connection until the device is enrolled
again; any other refusal, or none (a transport failure), is retried. Over long polling a refused connect
returns only when the server ends the long poll python-engineio leaves open, which on a closed session takes up
to ``--ping-interval`` + ``--ping-timeout`` (40 s at the defaults): there the refusal shows, and each retry
comes, that much later.

Threads: one thread, the connection's own, owns every piece of state and makes every REST read. The socket.io
handlers (on python-socketio's threads) and the public methods only put a message in its inbox; the events
that arrive during a REST read simply wait there. So the callbacks all run on the connection's thread, one at
a time, in order: keep them short (a Qt adapter emits a signal). python-socketio handles each incoming
message on its own thread, so two events a few milliseconds apart may reach the inbox in either order; the
next snapshot corrects that. Other threads read ``status``, ``devices_enrolled`` and ``transport``, which are
immutable values replaced whole.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import queue
import random
import time
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import requests
from pydantic import BaseModel, ValidationError

from protocol.refusals import FINAL, ConnectRefusal
from protocol.schema import (
    DayReport,
    DeviceEnrolledEvent,
    Me,
    PerformanceEvent,
    PresenceEvent,
    PresenceState,
    RosterChangeKind,
    RosterEvent,
    Slot,
    TeamMember,
    TeamPublic,
    TeamView,
    Totals,
)
from sync.api import ApiClient
from sync.backoff import Reconnect, jittered
from sync.errors import NotEnrolled, SyncError, in_words
from sync.socketio_client import Client, socketio  # python-socketio's threaded client alone
from sync.uploader import utc_now
from sync.worker import Worker, ignore

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
    refused: str | None = None  # why the server refused this device, in words; no retrying until enrolled again
    awaiting_approval: bool = False  # the last attempt was refused ``device_pending``: retried, token kept


@dataclasses.dataclass(frozen=True)
class TeamSnapshot:
    """What the UI shows: the team, each member's state (and totals for managers), and the reader's own day."""

    team: TeamPublic
    members: tuple[TeamMember, ...]
    own_date: date
    own_totals: Totals
    own_slots: tuple[Slot, ...]  # today's minutes, by start: the server's as read, then this device's uploads
    time_zone: str  # the user's, which cuts ``own_date``
    updated: datetime


class TeamModel:
    """The team as last read plus the live events since; pure, so the rules are testable without a network.

    Not thread-safe: only ``LiveConnection``'s thread calls it. The ``apply_*`` methods return False when the
    event cannot be placed (nothing loaded yet, or a user the last read did not list, such as a newly enrolled
    teammate): the caller then re-reads the team view.
    """

    def __init__(self) -> None:
        self._team: TeamPublic | None = None
        self._members: dict[int, TeamMember] = {}
        self._totals_date: dict[int, date] = {}
        self._own: tuple[date, Totals] | None = None
        self._zone = "UTC"
        self._slots: dict[datetime, Slot] = {}

    def load(self, view: TeamView, own_day: DayReport) -> None:
        self._team = view.team
        self._members = {member.user_id: member for member in view.members}
        self._totals_date = dict.fromkeys(self._members, view.date)
        self._own = (own_day.date, own_day.totals)
        self._zone = own_day.time_zone
        self._slots = {slot.start: slot for slot in own_day.slots}

    def apply_presence(self, event: PresenceEvent) -> bool:
        member = self._members.get(event.user_id)
        if member is None:
            return False
        seen = event.last_seen or member.last_seen  # (an older server's event does not say)
        self._members[event.user_id] = member.model_copy(
            update={"state": event.state, "since": event.since, "last_seen": seen})
        return True

    def apply_roster(self, event: RosterEvent) -> bool:
        """``roster``: a member joined (listed as never seen, with zero totals in a managers' view, until their
        first presence or upload says more), left (no longer listed), or was renamed (or changed role)."""
        if self._team is None:
            return False
        member = self._members.get(event.user_id)
        if event.change is RosterChangeKind.LEFT:
            self._members.pop(event.user_id, None)
            self._totals_date.pop(event.user_id, None)
        elif member is not None:
            self._members[event.user_id] = member.model_copy(update={"name": event.name, "role": event.role})
        elif event.change is RosterChangeKind.JOINED:
            managers_view = any(known.totals is not None for known in self._members.values())
            self._members[event.user_id] = TeamMember(
                user_id=event.user_id, name=event.name, role=event.role, state=PresenceState.OFFLINE, since=None,
                last_seen=None, totals=Totals() if managers_view else None)
            self._totals_date[event.user_id] = date.min  # new: minutes before their enrollment are refused
        else:
            return False  # renamed, but the last read did not list them: re-read
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
        if event.date > self._own[0]:
            self._slots = {}  # a new day: yesterday's minutes are not today's
        if event.date >= self._own[0]:
            self._own = (event.date, event.totals)
        return True

    def apply_own_slots(self, slots: list[Slot]) -> bool:
        """This device's minutes the server just stored, for today's per-minute view; True if any is today's.

        A minute is taken as this device sent it: where another device of the user also filled it, the server
        merges the two, and the next re-read shows that merge (totals come from ``performance-update``). A
        minute of a later day means local midnight passed: the view moves to that day, its totals zero until
        the server's ``performance-update`` for it (which may come before or after the minutes)."""
        if self._own is None:
            return False
        zone = ZoneInfo(self._zone)
        newest = max((slot.start.astimezone(zone).date() for slot in slots), default=self._own[0])
        if newest > self._own[0]:
            self._own, self._slots = (newest, Totals()), {}
        today = [slot for slot in slots if slot.start.astimezone(zone).date() == self._own[0]]
        self._slots |= {slot.start: slot for slot in today}
        return bool(today)

    def snapshot(self, updated: datetime) -> TeamSnapshot:
        if self._team is None or self._own is None:
            raise RuntimeError("TeamModel.snapshot() before load()")
        own_slots = tuple(self._slots[start] for start in sorted(self._slots))
        return TeamSnapshot(team=self._team, members=tuple(self._members.values()), own_date=self._own[0],
                            own_totals=self._own[1], own_slots=own_slots, time_zone=self._zone, updated=updated)


Message = Callable[[], None]  # run on the connection's thread


def refusal_code(data: Any) -> ConnectRefusal | None:
    """The code of a ``connect_error``: a namespace refusal carries ``{"message": …, "data": {"code": …}}``; a
    transport failure only a string, and an unknown code is no code (both are retried)."""
    details = data.get("data") if isinstance(data, dict) else None
    code = details.get("code") if isinstance(details, dict) else None
    try:
        return ConnectRefusal(code) if isinstance(code, str) else None
    except ValueError:
        return None


class LiveConnection(Worker):
    """Keeps a ``TeamModel`` current over socket.io and REST; ``start()`` it once, ``stop()`` it on quit.

    ``on_snapshot`` gets the model after every full REST read (after a connect, and each poll while the
    socket is down), ``on_change`` after each live event or upload of this device's, ``on_status`` when the
    state or refusal changes, ``on_device_enrolled`` when the server says another device was enrolled as this
    user (``device-enrolled``; the newest are kept in ``devices_enrolled``), ``on_me`` after each read of
    ``/me``: at every connect, and while the socket is down at polls until one succeeded.
    ``time_zone`` is the user's IANA zone that decides "today"; when None it is read from ``/me``.
    """

    #: ``stop`` disconnects and ends the thread; the step in progress finishes first: a connect attempt
    #: (``CONNECT_WAIT_S``) or one REST read (the stop is checked between steps).
    stop_timeout = 15.0

    def __init__(self, server_url: str, token: Callable[[], str | None], api: ApiClient, *,
                 now: Callable[[], datetime] = utc_now, time_zone: str | None = None,
                 on_snapshot: Callable[[TeamSnapshot], None] = ignore,
                 on_change: Callable[[TeamSnapshot], None] = ignore,
                 on_status: Callable[[LiveStatus], None] = ignore,
                 on_device_enrolled: Callable[[DeviceEnrolledEvent], None] = ignore,
                 on_me: Callable[[Me], None] = ignore,
                 poll_interval_s: float = POLL_INTERVAL_S, retry_base_s: float = 1.0, retry_cap_s: float = 60.0,
                 ca_bundle: str | None = None, rng: random.Random | None = None) -> None:
        super().__init__("live-connection")
        self._url, self._token, self._api, self._now = server_url.rstrip("/"), token, api, now
        self._zone = ZoneInfo(time_zone) if time_zone else None
        self._on_snapshot, self._on_change, self._on_status = on_snapshot, on_change, on_status
        self._on_device_enrolled, self._on_me = on_device_enrolled, on_me
        self._poll_interval, self._retry_base, self._retry_cap, self._rng = (
            poll_interval_s, retry_base_s, retry_cap_s, rng)
        self._inbox: queue.SimpleQueue[Message] = queue.SimpleQueue()
        # The connection thread's own state.
        self._model = TeamModel()
        self._me: Me | None = None  # from the last ``/me``: this device's id, and whether polls must read it
        self._early: list[DeviceEnrolledEvent] = []  # heard before ``/me`` said which device this is
        self._up = False  # the socket's namespace is connected
        self._resync_wanted = False
        self._folding = False  # applying the events that waited for a REST read: they go out with its snapshot
        self._refusal: tuple[ConnectRefusal, str] | None = None  # set by ``connect_error`` during an attempt
        self._next_poll = 0.0  # monotonic
        # Read by other threads: immutable, replaced whole.
        self._status = LiveStatus()
        self._devices_enrolled: tuple[DeviceEnrolledEvent, ...] = ()
        self._transport: str | None = None
        self._ca_bundle = ca_bundle
        self._http: requests.Session | None = None
        self._sio = self._client()

    @property
    def status(self) -> LiveStatus:
        return self._status

    @property
    def devices_enrolled(self) -> tuple[DeviceEnrolledEvent, ...]:
        """Other devices enrolled as this user since the agent started, oldest first."""
        return self._devices_enrolled

    @property
    def transport(self) -> str | None:
        """``websocket`` or ``polling`` while connected (for diagnostics)."""
        return self._transport

    def start(self) -> None:
        self._set_status(state=LinkState.RECONNECTING)
        super().start()


    def wake(self) -> None:
        self._post(lambda: None)

    def uploaded(self, slots: list[Slot]) -> None:
        """This device's minutes that the server just stored (from the uploader): shown without a re-read."""
        self._post(lambda: self._apply_own_slots(slots))

    def _client(self) -> Client:
        """A python-socketio client for one connection attempt, with a ``requests.Session`` of its own that only
        python-engineio's threads use (it carries the CA bundle to websockets too).

        A fresh one each attempt, so nothing of a failed attempt carries into the next (an engine.io session
        still winding down on its long poll, a late event of it): its handlers only post messages, a message
        from a client that is no longer the current one is dropped, and it is retired (``_retire``)."""
        if self._http is not None:
            self._retire(self._sio, self._http)
        self._http = requests.Session()
        self._http.verify = self._ca_bundle or True
        # No SIGINT handler of python-socketio's: the application owns Ctrl+C.
        sio = Client(reconnection=False, http_session=self._http, handle_sigint=False)

        def on(event: str, handler: Callable[..., None]) -> None:
            sio.on(event, lambda *args: self._post(lambda: handler(*args) if sio is self._sio else None))

        on("connect", self._connected)
        on("disconnect", lambda *_reason: self._dropped())
        on("connect_error", lambda data=None: self._refused(data))
        on("presence", lambda data: self._event(data, PresenceEvent, TeamModel.apply_presence))
        on("performance-update", lambda data: self._event(data, PerformanceEvent, TeamModel.apply_own_totals))
        on("team-performance-update",
           lambda data: self._event(data, PerformanceEvent, TeamModel.apply_member_totals))
        on("roster", self._roster)
        on("device-enrolled", self._device_enrolled)
        return sio

    def _post(self, message: Message) -> None:
        """The one way in from other threads: the connection's thread runs ``message`` in arrival order."""
        self._inbox.put(message)

    # --- the connection thread -------------------------------------------------------------------------------

    def _run(self) -> None:
        retry = Reconnect(base=self._retry_base, cap=self._retry_cap, rng=self._rng)
        self._next_poll = time.monotonic() + jittered(self._poll_interval, rng=self._rng)
        try:
            while not self._ended():
                if self._session():
                    retry.dropped()
                if self._ended():
                    break
                self._set_status(state=LinkState.RECONNECTING)
                delay = retry.delay()
                log.info("live connection down; next attempt in %.1f s", delay)
                self._wait_polling(time.monotonic() + delay)
        finally:
            self._close()
            if self._http is not None:
                self._retire(self._sio, self._http)
            self._set_status(state=LinkState.OFFLINE)

    def _ended(self) -> bool:
        """Stopped, or refused for good."""
        return self.stopping or self._status.refused is not None

    def _close(self) -> None:
        """The last disconnect, without waiting out a long poll.

        python-engineio's polling client can drop its CLOSE packet and then waits for its pending poll to end
        (the server's ping interval), which would hold up ``stop()``; python-socketio has no public way to
        abandon that poll. So over polling the disconnect runs as python-socketio's own background task
        (its public ``start_background_task``) and is not waited for: this client never connects again, and
        the server ends the session at its next ping at the latest.
        """
        self._transport = None
        if not self._sio.connected:
            return
        if self._sio.transport() == "polling":
            self._sio.start_background_task(self._sio.disconnect)
        else:
            self._sio.disconnect()

    @staticmethod
    def _retire(sio: Client, http: requests.Session) -> None:
        """Close a client's Session once its engine.io loop ended, not under a long poll still using it: on a
        thread of python-socketio's own (its public ``start_background_task``), disconnecting first if need be
        and waiting with its public ``wait`` for the loop to end (at the server's next ping at the latest).
        Never waited for: a daemon thread, so a quit does not wait out that poll."""

        def finish() -> None:
            if sio.connected:
                sio.disconnect()
            sio.wait()
            http.close()

        sio.start_background_task(finish)

    def _session(self) -> bool:
        """Connect, re-read, then follow events until the socket drops. True if it got live."""
        if not self._token():
            self._refuse(NotEnrolled("no device token is stored"))
            return False
        try:
            if not self._connect():
                return False
            if self.stopping:  # ``_run`` disconnects
                return False
            self._resync()
            if self._up:
                self._set_status(state=LinkState.LIVE)
            while True:
                self._inbox.get()()
                if self._ended() or not self._up:
                    return True
                if self._resync_wanted:
                    self._resync()
        except NotEnrolled as exc:
            self._refuse(exc)
            return False
        except SyncError as exc:
            log.warning("cannot read the team view after connecting: %s", exc)
            self._close()  # without waiting out a long poll
            return False
        finally:
            self._transport = None

    def _connect(self) -> bool:
        for transports in TRANSPORT_ORDER:
            if self.stopping:  # checked between attempts: each may take ``CONNECT_WAIT_S``
                return False
            self._sio = self._client()
            try:
                self._sio.connect(self._url, auth=self._auth, transports=transports, socketio_path=SOCKET_PATH,
                                  wait_timeout=CONNECT_WAIT_S)
            except (socketio.exceptions.ConnectionError, ValueError) as exc:
                self._run_inbox()  # a ``connect_error`` handler's message is there by now
                refusal, self._refusal = self._refusal, None
                if refusal is not None:
                    code, message = refusal
                    if code in FINAL:
                        self._refuse(NotEnrolled(message, code))
                        return False
                    log.info("live connection refused (%s): %s; retrying later", code, message)
                    self._set_status(awaiting_approval=code is ConnectRefusal.DEVICE_PENDING)
                    return False
                log.info("live connection over %s failed: %s", transports[0], exc)
                continue
            self._run_inbox()
            self._transport = transports[0]
            self._set_status(awaiting_approval=False)
            return True
        return False

    def _run_inbox(self) -> None:
        """Run what has arrived, without waiting."""
        while True:
            try:
                message = self._inbox.get_nowait()
            except queue.Empty:
                return
            message()

    def _wait_polling(self, until: float) -> None:
        """Until the monotonic ``until`` (the next attempt), stop or a refusal: run messages, and poll the team
        view every ``poll_interval_s``."""
        while not self._ended():
            now = time.monotonic()
            if now >= self._next_poll:
                self._poll()
                self._next_poll = time.monotonic() + jittered(self._poll_interval, rng=self._rng)
                continue
            if now >= until:
                return
            try:
                message = self._inbox.get(timeout=min(until, self._next_poll) - now)
            except queue.Empty:
                continue
            message()
            if self._resync_wanted:  # an event the model could not place: a poll is the re-read while down
                self._resync_wanted, self._next_poll = False, now

    def _poll(self) -> None:
        try:
            if self._me is None:
                self._read_me()
            read = self._read()
        except NotEnrolled as exc:
            self._refuse(exc)
        except SyncError as exc:
            log.debug("team view poll failed: %s", exc)
        else:
            if read is not None:
                self._model.load(*read)
                self._deliver(self._on_snapshot)

    def _resync(self) -> None:
        """Re-read over REST; the events that arrive meanwhile wait in the inbox and are applied after it, in
        the one snapshot delivered."""
        self._resync_wanted = False
        self._read_me()
        read = self._read()
        if read is None:
            return
        self._model.load(*read)
        self._folding = True
        try:
            self._run_inbox()
        finally:
            self._folding = False
        self._deliver(self._on_snapshot)

    def _read(self) -> tuple[TeamView, DayReport] | None:
        """The team and today over REST (the user's zone known from ``/me`` or given); None when a stop came
        before or between the reads (each may take the REST read timeout)."""
        if self._zone is None:
            raise RuntimeError("LiveConnection._read() before /me was read")
        if self.stopping:
            return None
        team = self._api.team()
        if self._stopping.is_set():  # (not ``stopping``: mypy takes the test above as still true)
            return None
        return team, self._api.day(self._now().astimezone(self._zone).date())

    def _read_me(self) -> None:
        """From ``/me``: the user's zone (unless given), this device's id, and the devices enrolled as this user
        since it was (``Me.new_devices``): the server announces a new device once, maybe while this one was
        away, so this runs at every connect."""
        me = self._api.me()
        self._me = me
        if self._zone is None:
            self._zone = ZoneInfo(me.user.time_zone)
        early, self._early = self._early, []
        for event in [*early, *me.new_devices]:
            self._note_device(event)
        self._on_me(me)

    def _auth(self) -> dict[str, str]:
        """Called by python-socketio at every attempt, so a re-enrolled device's new token is used."""
        return {"token": self._token() or ""}

    def _refuse(self, error: NotEnrolled) -> None:
        """Offline for good; the status says why in people's words (``in_words``), the log in the server's."""
        log.warning("live connection refused: %s", error)
        self._set_status(state=LinkState.OFFLINE, refused=in_words(error), awaiting_approval=False)

    # --- messages from socket.io's threads, run on the connection's --------------------------------------------

    def _connected(self) -> None:
        self._up = True

    def _dropped(self) -> None:
        self._up = False

    def _refused(self, data: Any) -> None:
        code = refusal_code(data)
        message = data.get("message") if isinstance(data, dict) else None
        if code is not None:
            self._refusal = (code, message if isinstance(message, str) else code.value)

    def _event(self, data: Any, kind: type[Event], apply: Callable[[TeamModel, Event], bool]) -> None:
        self._applied(data, kind, apply)

    def _applied(self, data: Any, kind: type[Event], apply: Callable[[TeamModel, Event], bool]) -> Event | None:
        try:
            event = kind.model_validate(data)
        except ValidationError as exc:
            log.warning("ignored a malformed %s event: %s", kind.__name__, exc)
            return None
        if not apply(self._model, event):
            self._resync_wanted = True
        elif not self._folding:
            self._deliver(self._on_change)
        return event

    def _roster(self, data: Any) -> None:
        """A ``roster`` event; one about the reader with a new role re-reads ``/me`` and the team (the re-read
        after a connect): what a demoted manager is shown must become a member's view at once."""
        event = self._applied(data, RosterEvent, TeamModel.apply_roster)
        me = self._me
        if event is not None and me is not None and event.user_id == me.user.id and event.role != me.user.role:
            log.info("this user's role changed to %s: re-reading /me and the team", event.role)
            self._resync_wanted = True

    def _apply_own_slots(self, slots: list[Slot]) -> None:
        if self._model.apply_own_slots(slots) and not self._folding:
            self._deliver(self._on_change)

    def _device_enrolled(self, data: Any) -> None:
        try:
            event = DeviceEnrolledEvent.model_validate(data)
        except ValidationError as exc:
            log.warning("ignored a malformed device-enrolled event: %s", exc)
            return
        if self._me is None:
            self._early = [*self._early, event][-DEVICES_KEPT:]
        else:
            self._note_device(event)

    def _note_device(self, event: DeviceEnrolledEvent) -> None:
        """Record and pass on another device's enrollment, once however often the server tells of it."""
        own = self._me.device_id if self._me is not None else None
        if event.device_id == own or any(known.device_id == event.device_id for known in self._devices_enrolled):
            return
        log.warning("%s", device_notice(event))
        self._devices_enrolled = (*self._devices_enrolled, event)[-DEVICES_KEPT:]
        self._on_device_enrolled(event)

    # --- what is passed on -------------------------------------------------------------------------------------

    def _deliver(self, callback: Callable[[TeamSnapshot], None]) -> None:
        updated = self._now()
        self._set_status(last_update=updated)
        callback(self._model.snapshot(updated))

    def _set_status(self, **changes: Any) -> None:
        if self._status.refused is not None:  # a refusal is final for this connection
            changes.pop("state", None)
        old, self._status = self._status, dataclasses.replace(self._status, **changes)
        if (old.state, old.refused, old.awaiting_approval) != (
                self._status.state, self._status.refused, self._status.awaiting_approval):
            self._on_status(self._status)
