"""Hand-written abuse of the socket.io endpoint: bad handshakes, oversized and unknown messages from a connected
client, and a flood of connects with garbage tokens. The server must stay healthy (``/healthz`` ok, its socket
count back to where it was) and legitimate clients must keep working throughout."""

from __future__ import annotations

import concurrent.futures
import itertools
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import engineio
import pytest
import requests
import socketio
import websocket

from support.servers import ServerProcess
from support.team import LiveClient, Team, make_team, post_batch, put_presence, recent_minutes, settle, slot

SOCKET_MESSAGE_CAP = 64 * 1024
MINUTES_AGO = itertools.count(1)  # every check posts a minute not stored yet


def health(server: ServerProcess) -> dict[str, Any]:
    answer = requests.get(server.url + "/healthz", timeout=10)
    assert answer.status_code == 200
    body: dict[str, Any] = answer.json()
    assert body["status"] == "ok" and body["database"] is True
    return body


def wait_sockets(server: ServerProcess, count: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while (seen := health(server)["sockets"]) != count:
        assert time.monotonic() < deadline, f"server holds {seen} sockets, expected {count}"
        time.sleep(0.05)


class _ClosingEngineIO(engineio.Client):  # type: ignore[misc]
    def _reset(self) -> None:
        if self.ws is not None:
            self.ws.close()
        super()._reset()


class ClosingClient(socketio.Client):  # type: ignore[misc]
    """python-engineio forgets, without closing it, a websocket the server dropped (a ResourceWarning, an error
    under ``filterwarnings=error``): this client closes it."""

    def _engineio_client_class(self) -> type[engineio.Client]:
        return _ClosingEngineIO


def raw_connect(server: ServerProcess, auth: Any) -> str:
    """Connect with any ``auth`` payload; return the refusal message, or "connected"."""
    client = ClosingClient(reconnection=False)
    refusals: list[Any] = []
    client.on("connect_error", lambda data=None: refusals.append(data))
    try:
        client.connect(server.url, socketio_path="/api/socket", auth=auth, transports=["websocket"], wait_timeout=10)
    except socketio.exceptions.ConnectionError as exc:
        return str(refusals[0].get("message") if refusals and isinstance(refusals[0], dict) else exc)
    finally:
        client.disconnect()
    return "connected"


@pytest.fixture
def watched(server: ServerProcess) -> Iterator[tuple[Team, LiveClient, LiveClient]]:
    """A team whose manager and member are connected before the abuse starts and must keep working."""
    team = make_team(server, roles=("manager", "member"))
    manager, member = team.people
    clients = LiveClient(server, manager.token).connect(), LiveClient(server, member.token).connect()
    yield team, clients[0], clients[1]
    for client in clients:
        client.close()


def assert_still_working(server: ServerProcess, team: Team, manager_client: LiveClient) -> None:
    """A legit write still reaches the manager live, and REST still answers."""
    member = team.people[1]
    start = recent_minutes(1, ago=next(MINUTES_AGO))[0]
    answer = post_batch(server, member, [slot(start, keys=7)])
    assert answer.status_code == 200, answer.text
    manager_client.wait_for("team-performance-update", lambda d: d["user_id"] == member.user_id, timeout=5)
    manager_client.events.clear()


@pytest.mark.parametrize(("auth", "reason"), [
    (None, "missing token"),
    ({}, "missing token"),
    ({"tok": "x"}, "missing token"),
    ({"token": None}, "missing token"),
    ({"token": 12345}, "missing token"),
    ({"token": ["a", "b"]}, "missing token"),
    ({"token": {"nested": "x"}}, "missing token"),
    ("just-a-string", "missing token"),
    ([1, 2, 3], "missing token"),
    ({"token": ""}, "missing token"),
    ({"token": "garbage"}, "unknown token"),
    ({"token": "x" * 60_000}, "unknown token"),  # huge, but under the message cap: looked up and refused
    ({"token": "\x00\n' OR 1=1 --"}, "unknown token"),
])
def test_bad_handshakes_are_refused_with_a_reason(server: ServerProcess, auth: Any, reason: str) -> None:
    before = health(server)["sockets"]
    assert reason in raw_connect(server, auth)
    wait_sockets(server, before)


def test_a_handshake_over_the_message_cap_is_dropped(server: ServerProcess,
                                                      watched: tuple[Team, LiveClient, LiveClient]) -> None:
    team, manager_client, _member_client = watched
    before = health(server)["sockets"]
    # Spoken by hand (engine.io OPEN, then a socket.io CONNECT packet): the client library leaks its websocket
    # when the server drops a handshake.
    ws = websocket.create_connection(server.url.replace("http", "ws", 1) + "/api/socket/?EIO=4&transport=websocket",
                                     timeout=10)
    try:
        assert ws.recv().startswith("0")  # engine.io OPEN
        ws.send("40" + json.dumps({"token": "x" * (SOCKET_MESSAGE_CAP + 1024)}))
        with pytest.raises((websocket.WebSocketConnectionClosedException, ConnectionError)):
            while True:  # the server closes the connection; nothing but a close may arrive before that
                assert ws.recv() == ""
                if not ws.connected:
                    raise websocket.WebSocketConnectionClosedException
    finally:
        ws.close()
    wait_sockets(server, before)
    assert_still_working(server, team, manager_client)


# python-engineio keeps a websocket the server dropped open until it is collected: not the server's leak.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning", "ignore::ResourceWarning")
def test_huge_and_unknown_client_events_change_nothing(server: ServerProcess,
                                                        watched: tuple[Team, LiveClient, LiveClient]) -> None:
    team, manager_client, member_client = watched
    other = make_team(server, roles=("member",)).people[0]
    before = health(server)["sockets"]
    # Unknown events and fake server events: ignored, nothing is relayed to anyone.
    member_client.sio.emit("join-team", {"team_id": 1})
    member_client.sio.emit("join-user", other.user_id)
    member_client.sio.emit("presence", {"user_id": other.user_id, "name": "x", "state": "away", "since": "now"})
    member_client.sio.emit("team-performance-update", {"user_id": other.user_id})
    member_client.sio.emit("no-such-event", list(range(1000)))
    settle(0.5)
    assert manager_client.received("presence", lambda d: d["user_id"] == other.user_id) == []
    assert manager_client.received("team-performance-update") == []
    assert member_client.sio.connected
    assert_still_working(server, team, manager_client)

    # A message over the 64 KiB cap: the server drops that socket, and nothing else.
    abuser = ClosingClient(reconnection=False)
    abuser.connect(server.url, socketio_path="/api/socket", auth={"token": other.token}, transports=["websocket"],
                   wait_timeout=10)
    wait_sockets(server, before + 1)
    abuser.emit("blob", "x" * (SOCKET_MESSAGE_CAP * 2))
    deadline = time.monotonic() + 10
    while abuser.connected:
        assert time.monotonic() < deadline, "oversized message not refused"
        time.sleep(0.05)
    abuser.disconnect()
    if abuser.eio.ws is not None:  # engine.io marks itself disconnected but keeps the dropped websocket open
        abuser.eio.ws.shutdown()
    wait_sockets(server, before)
    assert member_client.sio.connected and member_client.connects == 1
    assert_still_working(server, team, manager_client)


def test_a_flood_of_garbage_connects_leaves_the_server_healthy(
        server: ServerProcess, watched: tuple[Team, LiveClient, LiveClient]) -> None:
    team, manager_client, _member_client = watched
    before = health(server)["sockets"]
    refused = threading.Semaphore(0)

    def attempt(index: int) -> str:
        outcome = raw_connect(server, {"token": f"garbage-{index}"})
        refused.release()
        return outcome

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(attempt, range(200)))
    elapsed = time.monotonic() - started
    assert all("unknown token" in outcome for outcome in outcomes), set(outcomes)
    assert elapsed < 60
    wait_sockets(server, before)
    # The legit clients were not disconnected and still get their events.
    assert manager_client.connects == 1 and manager_client.sio.connected
    assert_still_working(server, team, manager_client)
    assert put_presence(server, team.people[1], "idle", seq=10).status_code == 200
    manager_client.wait_for("presence", lambda d: d["user_id"] == team.people[1].user_id and d["state"] == "idle")
