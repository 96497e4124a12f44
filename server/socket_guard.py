"""What one socket.io client may cost the server: the guard in front of python-socketio's dispatch.

The protocol has no client events (docs/protocol.md): a client sends a socket.io CONNECT with its token, maybe a
DISCONNECT, and engine.io pongs. python-socketio would dispatch anything else to the server's handlers, reserved
names included (``42["disconnect"]`` ran the disconnect handler while the socket stayed in its rooms), buffer
binary attachments without bound, and write a traceback for every malformed packet. So:

- ``GuardedServer._handle_eio_message`` replaces python-socketio's dispatcher: CONNECT and DISCONNECT go to
  python-socketio's own handlers; EVENT and ACK packets are dropped unread (no handler runs, no ack is sent);
  binary packets close the socket; a malformed packet is logged in one line and the third closes the socket.
- Every socket.io packet costs one token of a per-socket budget (``server.limits.Budget``); a socket that runs
  out is closed.
- An engine.io session with no socket.io connection is closed after ``connect_timeout_s`` (socket.io's Node
  server does the same after 45 s; ours defaults to 15), so sessions that only answer pings hold no memory long.
- ``FrameGuard`` checks each websocket frame before engine.io decodes it: an empty, binary or malformed frame,
  or a flood of engine.io packets, ends the websocket as a disconnect would, so engine.io cleans the session up
  at once instead of raising (a traceback, and a ghost socket until the ping timeout); so does one whose JSON
  nests too deep for engine.io's decoder (a ``RecursionError`` it does not catch).
- Long-polling gets the same rules in ``GuardedEngineIO``: a POST's payload is read (one longer than
  ``max_http_buffer_size`` closes the session) and screened by ``GuardedServer.screen_payload`` before
  engine.io decodes it: each packet spends the budget; an empty or undecodable payload, or a packet engine.io
  cannot take over polling, counts as malformed. A request for a closing or closed session is answered 400
  without engine.io (which raised ``KeyError`` there: a 500 and a traceback), and anything engine.io still
  raises is one quiet line and a 400. A polling session is closed without waiting for its client to fetch the
  CLOSE packet (engine.io's ``disconnect`` waited for ever, holding the request that caused it).
- Everything python-socketio and engine.io log goes through ``QuietLog``: one line each, at most
  ``LOG_LINES_PER_WINDOW`` per ``LOG_WINDOW_S``, so no client can write the log full.

The python-socketio and engine.io internals this relies on are named in ``tests/security/test_socket_pins.py``,
which fails if an upgrade changes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Collection, MutableMapping
from typing import Any

import engineio
import engineio.packet
import engineio.payload
import socketio
import socketio.packet

from protocol.refusals import ConnectRefusal
from server.limits import Budget

log = logging.getLogger(__name__)

#: Malformed packets one socket may send before it is closed (the first are logged; a client bug shows).
MAX_MALFORMED = 3
#: The log budget shared by every client: lines per window, then one line counting what was left out.
LOG_LINES_PER_WINDOW = 20
LOG_WINDOW_S = 60.0
#: Longest logged sample of a packet.
SAMPLE_CHARS = 60

#: socket.io packet types by the first character of a text message.
CONNECT, DISCONNECT, EVENT, ACK, BINARY_EVENT, BINARY_ACK = "0", "1", "2", "3", "5", "6"
#: engine.io packet types a client may send over a websocket: CLOSE, PING, PONG, MESSAGE, UPGRADE, NOOP.
ENGINEIO_CLIENT_TYPES = frozenset("123456")
#: Those engine.io takes in a polling POST (CLOSE, PONG, MESSAGE, UPGRADE): it closes the session on any other.
POLLING_CLIENT_TYPES = frozenset({1, 3, 4, 5})
ENGINEIO_MESSAGE = "4"
ENGINEIO_OPEN = "0"
#: The websocket close code of a socket the guard ends (RFC 6455 "policy violation").
POLICY_VIOLATION = 1008

AsgiMessage = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[AsgiMessage]]
Send = Callable[[AsgiMessage], Awaitable[None]]
#: ``GuardedServer.screen_payload``: why a polling request of a session must not reach engine.io, or None.
Screen = Callable[[str, "bytes | None"], "str | None"]


class QuietLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """A logger for python-socketio and engine.io: warnings and errors become one rate-limited line each (the
    exception's type and message instead of its traceback); their per-packet info lines go to debug."""

    def __init__(self, logger: logging.Logger, *, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(logger, {})
        self._clock = clock
        self._window_start = clock()
        self._lines = 0
        self._dropped = 0

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        if level < logging.WARNING:
            if self.logger.isEnabledFor(logging.DEBUG):
                self.logger.debug(msg, *args)
            return
        if not self._admit():
            return
        line = str(msg) % args if args else str(msg)
        if kwargs.get("exc_info"):
            exc = sys.exc_info()[1]
            if exc is not None:
                line += f" ({type(exc).__name__}: {str(exc)[:SAMPLE_CHARS]})"
        self.logger.warning("%s", line.replace("\n", " "))

    def _admit(self) -> bool:
        now = self._clock()
        if now - self._window_start >= LOG_WINDOW_S:
            if self._dropped:
                self.logger.warning("%d more socket warnings in the last %.0f s were not logged", self._dropped,
                                    now - self._window_start)
            self._window_start, self._lines, self._dropped = now, 0, 0
        if self._lines >= LOG_LINES_PER_WINDOW:
            self._dropped += 1
            return False
        self._lines += 1
        return True


#: The one log budget of this process: the guard's lines and python-socketio's and engine.io's share it.
QUIET = QuietLog(log)


def sample(data: str | bytes) -> str:
    """A short, printable excerpt of a packet for a log line."""
    return repr(data[:SAMPLE_CHARS]) + ("…" if len(data) > SAMPLE_CHARS else "")


class FrameGuard:
    """One websocket's ASGI ``receive`` and ``send``, checked before engine.io sees a frame.

    A frame engine.io cannot decode (empty, an unknown type) raises inside engine.io's websocket loop, which
    then skips its own cleanup; a binary frame starts a socket.io attachment. Either ends the websocket here
    instead: ``receive`` answers ``websocket.disconnect``, so engine.io closes the session as if the client had
    left, and ``send`` turns engine.io's close into a 1008 naming the reason. Non-message engine.io packets
    (pings, noops) spend a ``Budget``; socket.io messages spend ``GuardedServer``'s.

    ``end`` closes the websocket from outside (``GuardedServer`` ending a session): engine.io's own close only
    sends a CLOSE packet and then waits, up to the ping timeout, for a client that may never answer."""

    __slots__ = ("_budget", "_client", "_guards", "_receive", "_send", "closed", "problem", "sid")

    def __init__(self, receive: Callable[[], Awaitable[AsgiMessage]],
                 send: Callable[[AsgiMessage], Awaitable[None]], budget: Budget, client: str,
                 guards: dict[str, FrameGuard]) -> None:
        self._receive, self._send, self._budget, self._client = receive, send, budget, client
        self._guards = guards
        self.problem: str | None = None
        self.closed = False
        #: The engine.io session, once known (``learn``); the guard is then in ``guards`` under it.
        self.sid: str | None = None

    def learn(self, sid: str) -> None:
        self.sid = sid
        self._guards[sid] = self

    def forget(self) -> None:
        if self.sid is not None and self._guards.get(self.sid) is self:
            del self._guards[self.sid]

    async def receive(self) -> AsgiMessage:
        if self.problem is not None:
            return {"type": "websocket.disconnect", "code": POLICY_VIOLATION}
        message = await self._receive()
        if message["type"] != "websocket.receive":
            return message
        problem = self._check(message.get("text"), message.get("bytes"))
        if problem is None:
            return message
        self.problem = problem
        QUIET.warning("socket from %s closed: %s", self._client, problem)
        return {"type": "websocket.disconnect", "code": POLICY_VIOLATION}

    def _check(self, text: str | None, data: bytes | None) -> str | None:
        if text is None:
            return f"binary frame of {len(data or b'')} bytes (the protocol has none)"
        if text[:1] not in ENGINEIO_CLIENT_TYPES:
            return f"malformed engine.io packet {sample(text)}"
        if text[0] != ENGINEIO_MESSAGE and not self._budget.take():
            return "engine.io packet flood"
        if text[1:2] and not text[1].isnumeric():  # engine.io parses the rest as JSON, outside its own try
            try:
                engineio.packet.Packet(encoded_packet=text)
            except RecursionError:
                return f"malformed engine.io packet {sample(text)} (nested too deep)"
        return None

    async def send(self, message: AsgiMessage) -> None:
        if self.closed:
            return  # engine.io's writer, after ``end``: the websocket is closing
        if message["type"] == "websocket.close":
            self.closed = True
            if self.problem is not None:
                message = {"type": "websocket.close", "code": POLICY_VIOLATION, "reason": self.problem[:100]}
        elif self.sid is None and (text := message.get("text")) and text.startswith(ENGINEIO_OPEN):
            self.learn(json.loads(text[1:])["sid"])
        await self._send(message)

    async def end(self, why: str) -> None:
        """Close the websocket (1008); the server then tells engine.io it is gone, which cleans up after it."""
        if self.problem is None:
            self.problem = why
        with contextlib.suppress(OSError):  # the client left meanwhile (uvicorn's ClientDisconnected)
            await self.send({"type": "websocket.close"})


class GuardedEngineIO(engineio.AsyncServer):  # type: ignore[misc]  # python-engineio ships no type hints
    """engine.io with each websocket behind a ``FrameGuard`` (``guards`` finds a session's guard by its sid) and
    each long-polling request screened by ``screen`` (see the module's docstring)."""

    def __init__(self, *, packet_burst: int, packet_rate_per_s: float, screen: Screen, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.packet_burst, self.packet_rate_per_s = packet_burst, packet_rate_per_s
        self.screen = screen
        self.guards: dict[str, FrameGuard] = {}

    async def handle_request(self, scope: AsgiMessage, receive: Receive, send: Send) -> Any:
        if scope["type"] != "websocket":
            return await self._handle_http(scope, receive, send)
        client = scope.get("client") or ("?", 0)
        guard = FrameGuard(receive, send, Budget(self.packet_burst, self.packet_rate_per_s),
                           f"{client[0]}:{client[1]}", self.guards)
        upgrading = query_sid(scope)
        if upgrading is not None:  # a polling session moving to this websocket
            guard.learn(upgrading)
        try:
            return await super().handle_request(scope, guard.receive, guard.send)
        finally:
            guard.forget()

    async def _handle_http(self, scope: AsgiMessage, receive: Receive, send: Send) -> None:
        """A long-polling request: screened when it names a session, then engine.io's; whatever engine.io
        raises is one quiet line and a 400, never uvicorn's traceback and 500."""
        sid = query_sid(scope)
        if sid is not None and sid in self.sockets:  # an unknown sid is engine.io's to refuse
            problem, receive = await self._screened(sid, scope, receive)
            if problem is not None:
                await respond(send, self._bad_request(f"{problem}: {sid[:SAMPLE_CHARS]}"))
                return
        started = False

        async def tracked(message: AsgiMessage) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await super().handle_request(scope, receive, tracked)
        except Exception as exc:  # engine.io's unguarded paths, e.g. a client gone before its request arrived
            QUIET.warning("polling request from %s failed (%s: %s)", (scope.get("client") or ("?",))[0],
                          type(exc).__name__, str(exc)[:SAMPLE_CHARS])
            if not started:
                await respond(send, self._bad_request())

    async def _screened(self, sid: str, scope: AsgiMessage, receive: Receive) -> tuple[str | None, Receive]:
        """Why this request of session ``sid`` must not reach engine.io (or None), and the ``receive`` engine.io
        is to read a POST's body from, since the guard has read it already."""
        socket = self.sockets[sid]
        if socket.closed or socket.closing:
            return "session closed", receive
        if scope.get("method") != "POST":
            return self.screen(sid, None), receive
        body = await read_body(receive, self.max_http_buffer_size)
        return self.screen(sid, body), replay(body, receive)

    async def end_polling(self, sid: str) -> None:
        """Close a polling session now. engine.io's ``disconnect`` waits until the client has fetched the CLOSE
        packet, which a hostile one never does: the request that caused it then hung until shutdown."""
        socket = self.sockets.get(sid)
        if socket is not None:
            await socket.close(wait=False, reason=self.reason.SERVER_DISCONNECT)
            self.sockets.pop(sid, None)


def query_sid(scope: AsgiMessage) -> str | None:
    """The engine.io session a request names (``?sid=…``), if any."""
    found = urllib.parse.parse_qs(scope.get("query_string", b"").decode("latin-1")).get("sid")
    return found[0] if found else None


async def read_body(receive: Receive, cap: int) -> bytes:
    """A request's body, read no further than one chunk past ``cap`` bytes (the caller refuses a longer one)."""
    body = b""
    while True:
        message = await receive()
        chunk: bytes = message.get("body", b"")
        body += chunk
        if len(body) > cap or not message.get("more_body"):
            return body


def replay(body: bytes, receive: Receive) -> Receive:
    """``receive`` for engine.io, handing it the body already read, then the connection's own messages."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def again() -> AsgiMessage:
        return pending.pop() if pending else await receive()

    return again


async def respond(send: Send, response: dict[str, Any]) -> None:
    """Send one of engine.io's response dicts (``_bad_request``'s: status, headers, body)."""
    await send({"type": "http.response.start", "status": int(response["status"].split(" ")[0]),
                "headers": [(k.encode(), v.encode()) for k, v in response["headers"]]})
    await send({"type": "http.response.body", "body": response["response"]})


class OriginCheck:
    """Which ``Origin`` headers may open a socket: the listed ones, and the server's own host name, whatever the
    port (the agent's websocket library sends ``Origin: http://<server host:port>``, and nginx's ``Host $host``
    drops the port; its polling sends none, and no ``Origin`` is never checked). Any other page's is refused
    (engine.io answers 400): a web page on another site cannot open a socket to the server, whatever token it
    got hold of."""

    def __init__(self, allowed: Collection[str]) -> None:
        self.allowed = frozenset(allowed)

    def __call__(self, origin: str, environ: dict[str, Any]) -> bool:
        if origin in self.allowed:
            return True
        parts = urllib.parse.urlsplit(origin)
        host = urllib.parse.urlsplit("//" + environ.get("HTTP_HOST", "")).hostname
        return parts.scheme in ("http", "https") and host is not None and parts.hostname == host


class Session:
    """What the guard keeps of one engine.io session."""

    __slots__ = ("budget", "closing", "malformed", "timer")

    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        self.malformed = 0
        self.closing = False
        self.timer: asyncio.TimerHandle | None = None


class GuardedServer(socketio.AsyncServer):  # type: ignore[misc]  # python-socketio ships no type hints
    """python-socketio's server with the dispatcher replaced (see the module's docstring), and an ``Origin``
    allow-list (``OriginCheck``)."""

    def __init__(self, *, connect_timeout_s: float, packet_burst: int, packet_rate_per_s: float,
                 allowed_origins: Collection[str], **kwargs: Any) -> None:
        self.connect_timeout_s = connect_timeout_s
        self.packet_burst, self.packet_rate_per_s = packet_burst, packet_rate_per_s
        self.sessions: dict[str, Session] = {}
        self._closing: set[asyncio.Task[None]] = set()
        super().__init__(logger=QUIET, engineio_logger=QUIET, cors_allowed_origins=OriginCheck(allowed_origins),
                         **kwargs)

    def _engineio_server_class(self) -> Callable[..., GuardedEngineIO]:
        def build(**kwargs: Any) -> GuardedEngineIO:
            return GuardedEngineIO(packet_burst=self.packet_burst, packet_rate_per_s=self.packet_rate_per_s,
                                   screen=self.screen_payload, **kwargs)

        return build

    async def _handle_eio_connect(self, eio_sid: str, environ: dict[str, Any]) -> Any:
        session = self.sessions[eio_sid] = Session(Budget(self.packet_burst, self.packet_rate_per_s))
        self._arm(eio_sid, session)
        return await super()._handle_eio_connect(eio_sid, environ)

    async def _handle_eio_disconnect(self, eio_sid: str, reason: Any) -> None:
        session = self.sessions.pop(eio_sid, None)
        if session is not None and session.timer is not None:
            session.timer.cancel()
        await super()._handle_eio_disconnect(eio_sid, reason)

    async def _handle_eio_message(self, eio_sid: str, data: str | bytes) -> None:
        """python-socketio's dispatcher, reduced to what the protocol lets a client send."""
        session = self.sessions.get(eio_sid)
        if session is None or session.closing:
            return
        if not session.budget.take():
            self._close(eio_sid, session, "packet flood")
            return
        if not isinstance(data, str):
            self._close(eio_sid, session, f"binary packet of {len(data)} bytes (the protocol has none)")
            return
        kind = data[:1]
        if kind in (EVENT, ACK):
            return  # no client events: no handler runs, no ack is sent
        if kind in (BINARY_EVENT, BINARY_ACK):
            self._close(eio_sid, session, "binary event (the protocol has none)")
            return
        if kind not in (CONNECT, DISCONNECT):
            self._malformed(eio_sid, session, data)
            return
        try:
            packet = self.packet_class(encoded_packet=data)
        except (ValueError, RecursionError):
            self._malformed(eio_sid, session, data)
            return
        if kind == CONNECT and packet.namespace not in (None, "/"):
            # python-socketio would answer a bare string, which the official client reads as an empty message.
            await self._send_packet(eio_sid, self.packet_class(socketio.packet.CONNECT_ERROR, data={
                "message": f"unknown namespace {packet.namespace[:SAMPLE_CHARS]!r}: connect to '/'",
                "data": {"code": ConnectRefusal.UNKNOWN_NAMESPACE}}, namespace=packet.namespace))
        elif kind == CONNECT:
            await self._handle_connect(eio_sid, packet.namespace, packet.data)
        else:
            await self._handle_disconnect(eio_sid, packet.namespace, self.reason.CLIENT_DISCONNECT)

    def screen_payload(self, eio_sid: str, payload: bytes | None) -> str | None:
        """Why a polling request (``payload`` None for a GET) must not reach engine.io, or None. A POST's packets
        each spend the session's budget (a socket.io message spends it in ``_handle_eio_message``); an empty or
        undecodable payload, or a packet engine.io cannot take over polling, counts as malformed."""
        session = self.sessions.get(eio_sid)
        if session is None or session.closing:
            return "session closed"
        if payload is None:
            return None
        if len(payload) > self.eio.max_http_buffer_size:
            self._close(eio_sid, session, f"payload over {self.eio.max_http_buffer_size} bytes")
            return "payload too large"
        try:
            packets = engineio.payload.Payload(encoded_payload=payload.decode()).packets
        except (ValueError, KeyError, RecursionError):  # undecodable; KeyError: a JSONP "d=" with nothing
            packets = []
        if not packets or any(p.packet_type not in POLLING_CLIENT_TYPES for p in packets):
            self._malformed(eio_sid, session, payload)
            return "malformed payload"
        spending = sum(1 for p in packets if p.packet_type != int(ENGINEIO_MESSAGE))
        if not all(session.budget.take() for _ in range(spending)):
            self._close(eio_sid, session, "packet flood")
            return "packet flood"
        return None

    def _malformed(self, eio_sid: str, session: Session, data: str | bytes) -> None:
        session.malformed += 1
        if session.malformed >= MAX_MALFORMED:
            self._close(eio_sid, session, f"{session.malformed} malformed packets, the last {sample(data)}")
        else:
            QUIET.warning("malformed packet from %s: %s", eio_sid, sample(data))

    def _arm(self, eio_sid: str, session: Session) -> None:
        session.timer = asyncio.get_running_loop().call_later(self.connect_timeout_s, self._expire, eio_sid)

    def _expire(self, eio_sid: str) -> None:
        """Close a session holding no socket.io connection now; look again in ``connect_timeout_s`` otherwise (a
        session whose connection ends is closed within two timeouts)."""
        session = self.sessions.get(eio_sid)
        if session is None or session.closing:
            return
        sid = self.manager.sid_from_eio_sid(eio_sid, "/")
        if sid is not None and self.manager.is_connected(sid, "/"):
            self._arm(eio_sid, session)
        else:
            self._close(eio_sid, session, f"no socket.io connection after {self.connect_timeout_s:g} s",
                        quiet=True)

    def _close(self, eio_sid: str, session: Session, why: str, *, quiet: bool = False) -> None:
        """Close the session: a websocket through its ``FrameGuard``, a polling session through
        ``GuardedEngineIO.end_polling``. From a task of its own: the caller may be that session's receive loop."""
        session.closing = True
        QUIET.log(logging.DEBUG if quiet else logging.WARNING, "socket %s closed: %s", eio_sid, why)
        guard = self.eio.guards.get(eio_sid)
        closing = guard.end(why) if guard is not None else self.eio.end_polling(eio_sid)
        task = asyncio.get_running_loop().create_task(closing)
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)
