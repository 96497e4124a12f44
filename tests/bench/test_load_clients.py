"""The load tool's lean clients (``bench.load.wire``, ``bench.load.uploads``) against scripted servers on
loopback: aiohttp web servers that send exactly the frames and answers a case needs, including the awkward
ones a real server sends only now and then (an event before the connect is acknowledged, a refusal, silence,
a closed keep-alive connection, a stall)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web

from bench.load import uploads, wire

OPEN = '0{"sid":"e1","upgrades":[],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000}'


@contextlib.asynccontextmanager
async def serving(method: str, path: str, handler: Callable[[web.Request], Awaitable[Any]]) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_route(method, path, handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def socket_server(script: Callable[[web.WebSocketResponse], Awaitable[None]]) -> Callable[..., Awaitable[Any]]:
    async def handler(request: web.Request) -> web.WebSocketResponse:
        assert request.query["EIO"] == "4" and request.query["transport"] == "websocket"
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str(OPEN)
        await script(ws)
        await ws.close()
        return ws

    return handler


def test_events_before_and_after_the_connect_ack_arrive_in_order_and_pings_are_answered() -> None:
    heard: dict[str, Any] = {}

    async def script(ws: web.WebSocketResponse) -> None:
        heard["connect"] = await ws.receive_str()
        await ws.send_str('42["presence",{"user_id":1,"state":"break"}]')  # before the ack
        await ws.send_str('40{"sid":"s1"}')
        await ws.send_str("2")
        heard["pong"] = await ws.receive_str()
        await ws.send_str('42["presence",{"user_id":2,"state":"idle"}]')
        await ws.send_str('42["performance-update",{"day":"2026-11-26"}]')
        await ws.send_str("41")

    async def scenario() -> list[tuple[str, Any]]:
        events: list[tuple[str, Any]] = []
        async with serving("GET", "/api/socket/", socket_server(script)) as url, aiohttp.ClientSession() as http:
            socket = await wire.WireSocket.connect(http, url, "/api/socket", {"token": "t0k"})
            await asyncio.wait_for(socket.serve(lambda name, data: events.append((name, data))), 5)
        return events

    events = asyncio.run(scenario())
    assert heard == {"connect": '40{"token": "t0k"}', "pong": "3"}
    assert events == [("presence", {"user_id": 1, "state": "break"}), ("presence", {"user_id": 2, "state": "idle"}),
                      ("performance-update", {"day": "2026-11-26"})]


def test_a_refused_connect_raises_with_the_servers_message() -> None:
    async def script(ws: web.WebSocketResponse) -> None:
        await ws.receive_str()
        await ws.send_str('44{"message":"unknown token: enroll this device again"}')

    async def scenario() -> str:
        async with serving("GET", "/api/socket/", socket_server(script)) as url, aiohttp.ClientSession() as http:
            try:
                await wire.WireSocket.connect(http, url, "/api/socket", {"token": "nope"})
            except wire.Refused as exc:
                return str(exc)
        raise AssertionError("the connect was not refused")

    assert asyncio.run(scenario()) == "unknown token: enroll this device again"


def test_a_silent_connection_counts_as_dead_after_the_ping_interval_and_timeout() -> None:
    async def script(ws: web.WebSocketResponse) -> None:
        await ws.receive_str()
        await ws.send_str('40{"sid":"s1"}')
        await ws.receive()  # no pings (a half-open connection, as the client sees it) until the client leaves

    async def scenario() -> float:
        async with serving("GET", "/api/socket/", socket_server(script)) as url, aiohttp.ClientSession() as http:
            socket = await wire.WireSocket.connect(http, url, "/api/socket", {"token": "t"})
            began = asyncio.get_running_loop().time()
            await asyncio.wait_for(socket.serve(lambda *_: None), 4)
            return asyncio.get_running_loop().time() - began

    assert 0.4 <= asyncio.run(scenario()) < 2.0  # pingInterval + pingTimeout = 0.5 s


def _posts(url: str, count: int) -> list[bytes]:
    return [uploads.post_request(url, "/api/v1/activity", f"token{n}", {"n": n}) for n in range(count)]


def test_uploads_are_all_answered_over_kept_alive_and_closed_connections() -> None:
    seen: list[int] = []
    peers: set[Any] = set()

    async def handler(request: web.Request) -> web.Response:
        body = await request.json()
        assert request.headers["Authorization"] == f"Bearer token{body['n']}"
        seen.append(body["n"])
        assert request.transport is not None
        peers.add(request.transport.get_extra_info("peername"))
        response = web.json_response({"accepted": 5, "duplicates": 0}, status=200 if body["n"] != 7 else 409)
        if body["n"] % 3 == 0:
            response.force_close()  # Connection: close, as a server may say at any answer
        return response

    async def scenario() -> tuple[list[float], dict[str, int]]:
        async with serving("POST", "/api/v1/activity", handler) as url:
            return await uploads.send_all(url, _posts(url, 40), 4)

    took, failed = asyncio.run(scenario())
    assert sorted(seen) == list(range(40))
    assert len(took) == 39 and failed == {"409": 1}
    assert len(peers) >= 14, "every Connection: close answer made the client open a new connection"


def test_a_stalled_request_times_out_and_the_rest_go_on(monkeypatch: Any) -> None:
    monkeypatch.setattr(uploads, "REQUEST_TIMEOUT_S", 0.3)

    async def handler(request: web.Request) -> web.Response:
        if (await request.json())["n"] == 2:
            await asyncio.sleep(1)
        return web.json_response({"accepted": 5, "duplicates": 0})

    async def scenario() -> tuple[list[float], dict[str, int]]:
        async with serving("POST", "/api/v1/activity", handler) as url:
            return await uploads.send_all(url, _posts(url, 6), 1)

    took, failed = asyncio.run(scenario())
    assert len(took) == 5 and failed == {"TimeoutError": 1}
