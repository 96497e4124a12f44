"""Server restarts and reconnect storms: clients come back to their rooms, and sessions never pile up."""

from __future__ import annotations

import asyncio
import time

import requests
import socketio

from support.servers import ServerProcess
from support.team import LiveClient, Team, make_team, put_presence


def sockets_held(server: ServerProcess) -> int:
    count: int = requests.get(server.url + "/healthz", timeout=5).json()["sockets"]
    return count


def wait_sockets(server: ServerProcess, expected: int, timeout: float = 5.0) -> int:
    deadline = time.monotonic() + timeout
    while (held := sockets_held(server)) != expected and time.monotonic() < deadline:
        time.sleep(0.05)
    return held


def test_clients_rejoin_their_rooms_after_a_server_crash(server: ServerProcess, team: Team) -> None:
    manager, member = team.people[0], team.people[1]
    watcher = LiveClient(server, manager.token).connect()
    speaker = LiveClient(server, member.token).connect()
    try:
        server.stop(kill=True)  # kill -9: no goodbye to the clients
        server.start()
        for client in (watcher, speaker):
            # The connect handler is the signal: python-socketio sets ``sio.connected`` only after it returns,
            # and no later event need arrive to wake a wait on that flag.
            assert client.wait_until(lambda c=client: c.connects >= 2, timeout=10), \
                "client did not reconnect after the restart"
        assert put_presence(server, member, "break", seq=1).status_code == 200
        watcher.wait_for("presence", lambda d: d["user_id"] == member.user_id and d["state"] == "break")
    finally:
        watcher.close()
        speaker.close()


def test_twenty_reconnect_cycles_leave_one_session_per_device(server: ServerProcess) -> None:
    team = make_team(server, roles=["member"])
    before = sockets_held(server)
    client = LiveClient(server, team.people[0].token, reconnection=False)
    for _ in range(20):
        client.connect()
        client.close()
    # Zombies: 20 sockets opened with the same device token and never closed by the client. The server keeps
    # only the newest; the others are disconnected by the server.
    zombies = [LiveClient(server, team.people[0].token, reconnection=False).connect() for _ in range(20)]
    try:
        assert wait_sockets(server, before + 1) == before + 1
        # Each client learns of its disconnect on its own thread, a moment after the server let it go.
        deadline = time.monotonic() + 5
        while [z.sio.connected for z in zombies].count(True) != 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [z.sio.connected for z in zombies].count(True) == 1
        assert zombies[-1].sio.connected
    finally:
        for zombie in zombies:
            zombie.close()


def test_two_hundred_clients_all_receive_a_team_broadcast(server: ServerProcess) -> None:
    team = make_team(server, roles=["manager"] + ["member"] * 199)
    speaker = team.people[1]
    received: set[int] = set()

    async def run() -> None:
        clients = [socketio.AsyncClient(reconnection=False) for _ in team.people]
        heard = asyncio.Event()

        for person, client in zip(team.people, clients, strict=True):
            def handler(data: dict[str, object], user_id: int = person.user_id) -> None:
                if data["user_id"] == speaker.user_id and data["state"] == "break":
                    received.add(user_id)
                    if len(received) == len(clients):
                        heard.set()
            client.on("presence", handler)

        async def connect(client: socketio.AsyncClient, token: str) -> None:
            await client.connect(server.url, socketio_path="/api/socket", auth={"token": token},
                                 transports=["websocket"], wait_timeout=30)

        await asyncio.gather(*(connect(c, p.token) for c, p in zip(clients, team.people, strict=True)))
        try:
            await asyncio.to_thread(put_presence, server, speaker, "break", 1)
            await asyncio.wait_for(heard.wait(), timeout=10)
        finally:
            await asyncio.gather(*(c.disconnect() for c in clients))

    asyncio.run(run())
    assert received == {p.user_id for p in team.people}
