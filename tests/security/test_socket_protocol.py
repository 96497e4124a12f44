"""Packets a socket.io client library would never send, spoken by hand over a raw websocket (the ``websockets``
package): reserved event names, acks, binary attachments, malformed and empty frames, floods, sessions that never
connect, foreign origins, a permessage-deflate offer; and the same over engine.io's long-polling, by hand over
raw HTTP. Each was an attack on the server before ``server.socket_guard`` (issue 13, items 2-4, 8, 12, 16-20);
each test fails on the code before it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from security.test_socket_abuse import assert_still_working, health, wait_sockets
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from server import admin
from server.migrate import run_in_session
from support.servers import TEST_SERVER_ARGS, ServerProcess
from support.team import LiveClient, Team, make_team, post_batch, recent_minutes, slot

#: Every event name socket.io reserves: python-socketio's ``reserved_events`` (connect, disconnect), the client
#: side's ``connect_error``, and the Node server's ``RESERVED_EVENTS`` (socket.io/lib/socket.ts).
RESERVED_NAMES = ("connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener")
SHORT_CONNECT_TIMEOUT_S = 1.0
ALLOWED_ORIGIN = "https://team.example"


class Raw:
    """One engine.io session over a websocket, spoken by hand."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        opened = self.recv(10)
        assert opened is not None and opened.startswith("0"), opened

    def send(self, frame: str | bytes) -> None:
        self.ws.send(frame)

    def recv(self, timeout: float) -> str | None:
        """The next frame (engine.io pings answered on the way), or None if none came in time."""
        while True:
            try:
                frame = self.ws.recv(timeout=timeout)
            except TimeoutError:
                return None
            if frame == "2":
                self.ws.send("3")
                continue
            assert isinstance(frame, str), frame
            return frame

    def wait_frame(self, match: Callable[[str], bool], timeout: float = 10.0) -> tuple[str, list[str]]:
        """The first frame ``match`` accepts, and every frame before it."""
        before: list[str] = []
        while True:
            frame = self.recv(timeout)
            assert frame is not None, f"no matching frame in {timeout} s; got {before}"
            if match(frame):
                return frame, before
            before.append(frame)

    def connect(self, token: str) -> str:
        """A socket.io CONNECT with this token: the server's answer (``40{…}`` or ``44{…}``)."""
        self.send("40" + json.dumps({"token": token}))
        return self.wait_frame(lambda f: f.startswith(("40", "44")))[0]

    def closed_within(self, timeout: float) -> bool:
        """Whether the server ends the websocket within ``timeout`` (frames before the close are skipped)."""
        try:
            while self.recv(timeout) is not None:
                pass
        except ConnectionClosed:
            return True
        return False



@pytest.fixture
def raws() -> Iterator[contextlib.ExitStack]:
    """Raw sessions opened by a test are closed after it."""
    with contextlib.ExitStack() as stack:
        yield stack


def raw_websocket(raws: contextlib.ExitStack, server: ServerProcess, *, origin: str | None = None,
                  deflate: bool = False) -> ClientConnection:
    url = server.url.replace("http", "ws", 1) + "/api/socket/?EIO=4&transport=websocket"
    return raws.enter_context(connect(url, origin=origin,  # type: ignore[arg-type]  # an Origin is a str
                                      compression="deflate" if deflate else None, ping_interval=None,
                                      open_timeout=10, max_size=None))


def open_raw(raws: contextlib.ExitStack, server: ServerProcess, **kwargs: Any) -> Raw:
    return Raw(raw_websocket(raws, server, **kwargs))


@pytest.fixture
def watched(server: ServerProcess) -> Iterator[tuple[Team, LiveClient]]:
    """A team whose manager is connected with the real client and must keep working throughout."""
    team = make_team(server, roles=("manager", "member"))
    client = LiveClient(server, team.people[0].token).connect()
    yield team, client
    client.close()


def revoke(server: ServerProcess, device_id: int) -> None:
    asyncio.run(run_in_session(server.database_url,
                               lambda s, now: admin.revoke_device(s, device_id=device_id, now=now)))


# --- item 2: reserved names and every other client event -------------------------------------------------


@pytest.mark.parametrize("name", RESERVED_NAMES)
def test_a_reserved_event_name_runs_no_handler(server: ServerProcess, watched: tuple[Team, LiveClient],
                                               raws: contextlib.ExitStack, name: str) -> None:
    team, manager_client = watched
    member = team.people[1]
    stranger = make_team(server, roles=("manager",)).people[0]
    before = health(server)["sockets"]
    raw = open_raw(raws, server)
    assert raw.connect(member.token).startswith("40{")
    wait_sockets(server, before + 1)
    # The name alone, with a stranger's token (the way ``connect`` handlers take it), and with an ack id.
    raw.send("42" + json.dumps([name]))
    raw.send("42" + json.dumps([name, {}, {"token": stranger.token}]))
    raw.send("427" + json.dumps([name, "io client disconnect"]))
    assert_still_working(server, team, manager_client)  # the packets above were handled before this
    wait_sockets(server, before + 1)  # still counted
    # Still in the member's rooms and no one else's, and nothing acked: the stranger's upload (announced first)
    # does not reach the socket, the member's does, and no ack or disconnect came before it.
    assert post_batch(server, stranger, [slot(recent_minutes(1)[0], keys=3)]).status_code == 200
    assert post_batch(server, member, [slot(recent_minutes(1, ago=100)[0], keys=3)]).status_code == 200
    _, before_it = raw.wait_frame(lambda f: f.startswith('42["performance-update"')
                                  and f'"user_id":{member.user_id}' in f)
    assert [f for f in before_it if f.startswith(("41", "43")) or f'"user_id":{stranger.user_id}' in f] == []


def test_a_revoked_device_is_closed_whatever_its_socket_sent(server: ServerProcess, raws: contextlib.ExitStack) -> None:
    manager = make_team(server, roles=("manager", "member")).people[0]
    before = health(server)["sockets"]
    raw = open_raw(raws, server)
    assert raw.connect(manager.token).startswith("40{")
    raw.send('42["disconnect"]')  # made the server forget the socket while it stayed in its rooms
    wait_sockets(server, before + 1)
    revoke(server, manager.device_id)
    # One sweep interval (0.2 s in tests) and a margin for a busy machine: told to go, and no longer counted.
    raw.wait_frame(lambda f: f.startswith("41"), timeout=5)
    wait_sockets(server, before)


def test_a_device_keeps_one_socket_whatever_its_sockets_sent(server: ServerProcess, raws: contextlib.ExitStack) -> None:
    """Each connect of a device replaces its older socket; a forged disconnect made the server forget the old
    one, so one token held any number of sockets, past the per-user cap."""
    member = make_team(server, roles=("member",)).people[0]
    before = health(server)["sockets"]
    held = []
    for _ in range(12):  # more than the default cap of 10
        raw = open_raw(raws, server)
        assert raw.connect(member.token).startswith("40{")
        raw.send('42["disconnect"]')
        held.append(raw)
    for raw in held[:-1]:
        raw.wait_frame(lambda f: f.startswith("41"), timeout=5)
    wait_sockets(server, before + 1)


# --- item 20: refusals the official client can read; no acks ---------------------------------------------


@pytest.mark.parametrize(("token", "code", "words"), [
    ("", "missing_token", "missing token: connect with auth="),
    ("garbage", "unknown_token", "unknown token"),
])
def test_a_refusal_carries_a_message_and_a_code(server: ServerProcess, raws: contextlib.ExitStack, token: str,
                                                code: str, words: str) -> None:
    answer = open_raw(raws, server).connect(token)
    assert answer.startswith("44"), answer
    refusal = json.loads(answer[2:])
    assert refusal["data"] == {"code": code}
    assert refusal["message"].startswith(words), refusal
    assert "Authorization" not in refusal["message"]


def test_an_unknown_namespace_is_refused_with_a_message_and_a_code(server: ServerProcess,
                                                                   raws: contextlib.ExitStack) -> None:
    raw = open_raw(raws, server)
    raw.send("40/admin,")
    answer, _ = raw.wait_frame(lambda f: f.startswith("44/admin,"))
    refusal = json.loads(answer.removeprefix("44/admin,"))
    assert refusal["data"] == {"code": "unknown_namespace"} and "/admin" in refusal["message"], refusal


def test_a_revoked_token_is_refused_with_its_code(server: ServerProcess, raws: contextlib.ExitStack) -> None:
    member = make_team(server, roles=("member",)).people[0]
    revoke(server, member.device_id)
    refusal = json.loads(open_raw(raws, server).connect(member.token)[2:])
    assert refusal["data"] == {"code": "revoked"} and "revoked" in refusal["message"]


def test_an_event_with_an_ack_id_gets_no_ack(server: ServerProcess, raws: contextlib.ExitStack) -> None:
    member = make_team(server, roles=("member",)).people[0]
    raw = open_raw(raws, server)
    assert raw.connect(member.token).startswith("40{")
    raw.send('4212["join-team",{"team_id":1}]')
    raw.send('4213["presence"]')
    raw.send("40/nowhere,")  # answered in order: anything the server sends for the events comes before this
    _, before = raw.wait_frame(lambda f: f.startswith("44/nowhere,"))
    assert before == []


# --- items 3, 4, 18, 19: malformed, binary, empty, flooding ----------------------------------------------

#: Frames engine.io or socket.io cannot decode: an unknown engine.io type, a server-only one, a socket.io type
#: that is no type, broken or bottomless JSON in a CONNECT, a CONNECT_ERROR from a client, bottomless JSON that
#: engine.io itself decodes (an uncaught ``RecursionError``: a traceback).
MALFORMED = ("x", "9", "0{}", "4x", "40{bad", "4" + "0" + "[" * 20_000, "44{}", "4" + "[" * 20_000)
#: Log lines a flood of malformed packets may cost: the guard's budget per minute, twice (a minute may turn
#: during the test), of at most this many bytes each.
LOG_LINES_BOUND = 2 * (20 + 1)
LOG_LINE_BYTES = 300


@pytest.mark.parametrize("malformed", MALFORMED)
def test_a_malformed_packet_closes_a_socket_within_three(server: ServerProcess, raws: contextlib.ExitStack,
                                                        malformed: str) -> None:
    logged = server.log_path.stat().st_size
    raw = open_raw(raws, server)
    with contextlib.suppress(ConnectionClosed):  # an undecodable engine.io frame closes at once
        for _ in range(3):
            raw.send(malformed)
    assert raw.closed_within(5), f"{malformed[:20]!r} x3 did not close the socket"
    assert "Traceback" not in new_log(server, logged)  # written before the socket closes, if at all


def test_malformed_packets_cost_a_bounded_log(server: ServerProcess, raws: contextlib.ExitStack,
                                              watched: tuple[Team, LiveClient]) -> None:
    team, manager_client = watched
    logged = server.log_path.stat().st_size
    sockets = [open_raw(raws, server) for _ in range(20)]
    for raw in sockets:
        for malformed in MALFORMED[3:]:  # socket.io-level ones: each was a traceback and the socket stayed
            raw.send(malformed)
    for raw in sockets:
        assert raw.closed_within(5)
    assert_still_working(server, team, manager_client)
    grown = server.log_path.stat().st_size - logged
    assert grown <= LOG_LINES_BOUND * LOG_LINE_BYTES, server.log_path.read_text()[logged:][-3000:]
    assert "Traceback" not in server.log_path.read_text()[logged:]


@pytest.mark.parametrize("opening", [
    '459999999-["x",{"_placeholder":true,"num":0}]',  # then 60 KiB attachments: buffered 246 MB
    '461-[{"_placeholder":true,"num":0}]',
    b"\x00" * 1024,  # a binary frame: an attachment nobody announced
    "bAAAA",  # engine.io's base64 binary
])
def test_binary_packets_close_the_socket(server: ServerProcess, raws: contextlib.ExitStack,
                                         opening: str | bytes) -> None:
    member = make_team(server, roles=("member",)).people[0]
    before = health(server)["sockets"]
    raw = open_raw(raws, server)
    assert raw.connect(member.token).startswith("40{")
    raw.send(opening)
    sent = 0
    with contextlib.suppress(ConnectionClosed):
        for sent in range(1, 200):  # 12 MiB of attachments, unless the server ends the socket first
            raw.send(b"\x00" * 60 * 1024)
            if raw.recv(0.01) is None and sent > 20:
                break
    assert raw.closed_within(5), f"socket still open after {sent} attachments"
    wait_sockets(server, before)


@pytest.mark.parametrize("packet", ['42["x"]', "6"])  # ignored events; engine.io noops
def test_a_flooding_socket_is_closed(server: ServerProcess, raws: contextlib.ExitStack,
                                     watched: tuple[Team, LiveClient], packet: str) -> None:
    team, manager_client = watched
    member = make_team(server, roles=("member",)).people[0]
    before = health(server)["sockets"]
    raw = open_raw(raws, server)
    assert raw.connect(member.token).startswith("40{")
    with contextlib.suppress(ConnectionClosed):
        for _ in range(2000):
            raw.send(packet)
    assert raw.closed_within(5)
    wait_sockets(server, before)
    assert_still_working(server, team, manager_client)


def test_an_empty_frame_leaves_no_ghost_socket(server: ServerProcess, raws: contextlib.ExitStack) -> None:
    member = make_team(server, roles=("member",)).people[0]
    before = health(server)["sockets"]
    logged = server.log_path.stat().st_size
    raw = open_raw(raws, server)
    assert raw.connect(member.token).startswith("40{")
    wait_sockets(server, before + 1)
    raw.send("")
    assert raw.closed_within(5)
    wait_sockets(server, before, timeout=3)  # not the ping timeout (40 s) later
    assert "Traceback" not in server.log_path.read_text()[logged:]


# --- items 8 and 16: permessage-deflate --------------------------------------------------------------------


def test_permessage_deflate_is_declined(server: ServerProcess, raws: contextlib.ExitStack) -> None:
    """Browsers and the official JS client offer it; accepted, a 15 KiB message inflated to 15 MiB before any
    size check, and each socket cost 130-150 KiB of zlib state instead of 39 KiB."""
    ws = raw_websocket(raws, server, deflate=True)
    assert ws.response is not None
    assert ws.response.headers.get("Sec-WebSocket-Extensions") is None
    Raw(ws)


def test_a_message_over_the_cap_is_not_buffered(server: ServerProcess, raws: contextlib.ExitStack) -> None:
    """uvicorn buffered up to 16 MiB of one websocket message before engine.io's 64 KiB check; now it closes the
    socket (1009, message too big) once the message passes 64 KiB."""
    raw = open_raw(raws, server)
    with contextlib.suppress(ConnectionClosed):  # the server may close while the message is still going out
        raw.send("4" + "x" * (1024 * 1024))
    assert raw.closed_within(5)
    assert raw.ws.close_code == 1009


# --- items 17, 8 and 12: sessions that never connect, foreign origins --------------------------------------


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server with a short connect timeout and one allowed browser origin."""
    base = tmp_path_factory.mktemp("strict-server")
    process = ServerProcess(f"sqlite:///{base / 'server.db'}", base / "server.log", *TEST_SERVER_ARGS,
                            "--socket-connect-timeout", str(SHORT_CONNECT_TIMEOUT_S),
                            "--allowed-origin", ALLOWED_ORIGIN).start()
    yield process
    process.stop()


def test_a_session_that_never_connects_is_closed(strict_server: ServerProcess, raws: contextlib.ExitStack) -> None:
    member = make_team(strict_server, roles=("member",)).people[0]
    connected = open_raw(raws, strict_server)
    assert connected.connect(member.token).startswith("40{")
    idle = open_raw(raws, strict_server)
    assert idle.closed_within(SHORT_CONNECT_TIMEOUT_S + 5)
    refused = open_raw(raws, strict_server)
    assert refused.connect("garbage").startswith("44")
    assert refused.closed_within(SHORT_CONNECT_TIMEOUT_S + 5)
    # Two timeouts and more have passed: the connected socket is still served.
    assert post_batch(strict_server, member, [slot(recent_minutes(1)[0], keys=3)]).status_code == 200
    connected.wait_frame(lambda f: f.startswith('42["performance-update"'))


def test_a_foreign_origin_is_refused(server: ServerProcess, raws: contextlib.ExitStack) -> None:
    with pytest.raises(InvalidStatus) as refused:
        raw_websocket(raws, server, origin="https://evil.example")
    assert refused.value.response.status_code == 403
    Raw(raw_websocket(raws, server, origin=server.url))  # the agent's websocket library names the server's own
    polling = server.url + "/api/socket/?EIO=4&transport=polling"
    assert requests.get(polling, headers={"Origin": "https://evil.example"}, timeout=10).status_code == 400
    assert requests.get(polling, timeout=10).status_code == 200  # the agent's polling sends no Origin


def test_an_allowed_origin_connects(strict_server: ServerProcess, raws: contextlib.ExitStack) -> None:
    member = make_team(strict_server, roles=("member",)).people[0]
    assert open_raw(raws, strict_server, origin=ALLOWED_ORIGIN).connect(member.token).startswith("40{")
    with pytest.raises(InvalidStatus):
        raw_websocket(raws, strict_server, origin="https://other.example")


# --- items 3, 18, 19 over long-polling: the same rules as over a websocket ---------------------------------


class Polling:
    """One engine.io session over long-polling, spoken by hand with ``requests``. No GET is sent while the
    session is open: it would wait up to the ping interval for a packet."""

    def __init__(self, server: ServerProcess) -> None:
        url = server.url + "/api/socket/?EIO=4&transport=polling"
        opened = requests.get(url, timeout=10)
        assert opened.status_code == 200 and opened.text.startswith("0"), opened.text
        self.url = url + "&sid=" + json.loads(opened.text[1:])["sid"]

    def post(self, payload: str | bytes) -> requests.Response:
        return requests.post(self.url, data=payload, timeout=10)

    def wait_closed(self, timeout: float = 5.0) -> None:
        """Until a pong (a packet the client may always send) is refused: 400, as engine.io answers a closed or
        unknown session, never 500."""
        deadline = time.monotonic() + timeout
        while (status := self.post("3").status_code) == 200:
            assert time.monotonic() < deadline, "polling session still open"
            time.sleep(0.05)
        assert status == 400, status


def new_log(server: ServerProcess, since: int) -> str:
    return server.log_path.read_text()[since:]


def test_a_request_for_a_closed_polling_session_is_a_quiet_400(server: ServerProcess) -> None:
    """engine.io raised ``KeyError('Session is disconnected')`` there: a 500 and a uvicorn traceback, every few
    unauthenticated requests."""
    logged = server.log_path.stat().st_size
    polling = Polling(server)
    for _ in range(3):
        assert polling.post("4x").status_code in (200, 400)
    polling.wait_closed()
    assert polling.post("4x").status_code == 400
    assert requests.get(polling.url, timeout=10).status_code == 400
    assert "Traceback" not in new_log(server, logged)


@pytest.mark.parametrize("payload", ["", b""])  # as text and as bytes: requests sends no body for either
def test_empty_polling_payloads_count_as_malformed(server: ServerProcess, payload: str | bytes) -> None:
    """They answered 200 for ever."""
    polling = Polling(server)
    assert [polling.post(payload).status_code for _ in range(3)] == [400, 400, 400]
    polling.wait_closed()


@pytest.mark.parametrize("packet", ["3", "5", '42["x"]'])  # pongs, upgrades (each queued a noop), events
def test_a_polling_flood_closes_the_session(server: ServerProcess, watched: tuple[Team, LiveClient],
                                            packet: str) -> None:
    team, manager_client = watched
    member = make_team(server, roles=("member",)).people[0]
    before = health(server)["sockets"]
    polling = Polling(server)
    assert polling.post("40" + json.dumps({"token": member.token})).status_code == 200
    wait_sockets(server, before + 1)
    payload = "\x1e".join([packet] * 16)  # engine.io's most packets in one payload
    statuses = [polling.post(payload).status_code for _ in range(20)]  # 320 packets; the budget bursts 30
    assert 400 in statuses, statuses
    polling.wait_closed()
    wait_sockets(server, before)
    assert_still_working(server, team, manager_client)


#: Requests engine.io once answered with a hang (until the server stopped), a 500 or a traceback, and the ones it
#: always refused: each must be a 4xx and leave no traceback. ``{sid}``: an open polling session's.
POLLING_PROBES: tuple[tuple[str, str, str | bytes], ...] = (
    ("POST", "EIO=4&transport=polling&sid=no-such-session", "40"),
    ("POST", "EIO=4&transport=polling", "40"),  # no sid
    ("GET", "transport=polling", ""),  # no engine.io version
    ("GET", "EIO=3&transport=polling", ""),
    ("PUT", "EIO=4&transport=polling", ""),
    ("DELETE", "EIO=4&transport=polling&sid={sid}", ""),
    ("POST", "EIO=4&transport=polling&sid={sid}", b"\xff\xfe"),  # not UTF-8
    ("POST", "EIO=4&transport=polling&sid={sid}", "x"),  # no engine.io type
    ("POST", "EIO=4&transport=polling&sid={sid}", "2"),  # a ping, a noop: engine.io closed, waiting for ever
    ("POST", "EIO=4&transport=polling&sid={sid}", "6"),
    ("POST", "EIO=4&transport=polling&sid={sid}", "d="),  # JSONP with nothing
    ("POST", "EIO=4&transport=polling&sid={sid}", "\x1e".join(["3"] * 17)),  # past engine.io's 16 packets
    ("POST", "EIO=4&transport=polling&sid={sid}", "4" + "[" * 20_000),  # bottomless JSON
    ("POST", "EIO=4&transport=polling&sid={sid}", "4" + "x" * 70 * 1024),  # past the 64 KiB cap
)


@pytest.mark.parametrize(("method", "query", "body"), POLLING_PROBES)
def test_a_bad_polling_request_is_refused_quietly(server: ServerProcess, method: str, query: str,
                                                  body: str | bytes) -> None:
    logged = server.log_path.stat().st_size
    sid = Polling(server).url.rsplit("&sid=", 1)[1]
    answer = requests.request(method, f"{server.url}/api/socket/?{query.format(sid=sid)}", data=body, timeout=10)
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.text)
    assert "Traceback" not in new_log(server, logged)


def test_a_polling_client_gone_before_its_body_costs_no_traceback(server: ServerProcess) -> None:
    """uvicorn answers such a request's first read with a disconnect; engine.io then failed on an empty environ
    (``KeyError: 'REQUEST_METHOD'``): a traceback for each half-sent request, with or without a session."""
    logged = server.log_path.stat().st_size
    polling = Polling(server)
    query = polling.url.split("?", 1)[1]
    for target in (query.split("&sid=")[0], query, query, query):
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as tcp:
            tcp.sendall(f"POST /api/socket/?{target} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n".encode())
    polling.wait_closed()  # the last three are empty payloads of the session, handled after the first
    assert "Traceback" not in new_log(server, logged)


def test_malformed_polling_payloads_cost_a_bounded_log(server: ServerProcess,
                                                       watched: tuple[Team, LiveClient]) -> None:
    team, manager_client = watched
    logged = server.log_path.stat().st_size
    sessions = [Polling(server) for _ in range(20)]
    for polling in sessions:
        for payload in ("", "4x", "40{bad", b"\xff", "x", "4x"):  # the session is closed within the first three
            assert polling.post(payload).status_code in (200, 400)
    for polling in sessions:
        polling.wait_closed()
    assert_still_working(server, team, manager_client)
    grown = server.log_path.stat().st_size - logged
    assert grown <= LOG_LINES_BOUND * LOG_LINE_BYTES, new_log(server, logged)[-3000:]
    assert "Traceback" not in new_log(server, logged)
