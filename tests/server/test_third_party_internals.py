"""Every third-party internal the server relies on outside ``server.socket_guard``, one test each, pinned.

Each test fails loudly, naming the package and the version pinned in pyproject.toml, when an upgrade renames,
re-signs or rewires what the server relies on, before it silently stops working. The guard's own internals
(python-socketio, python-engineio, uvicorn's wsproto) are pinned in tests/security/test_socket_pins.py; the
behaviour each internal makes possible is tested end to end elsewhere (named in each test).

    python-socketio   server.rooms (AsyncManager's bookkeeping), server.gateway (the Redis manager's
                      start-up; the handshake environ it keeps)
    python-engineio   server.gateway.shed_environ (what its ASGI adapter reads of the environ)
    uvicorn           server.cli.serve (Server.run on our socket)
    fastapi           server.api.fast_path (a route's Dependant, and the order FastAPI solves it in)
"""

from __future__ import annotations

import ast
import asyncio
import dataclasses
import inspect
import re
import socket
import textwrap
import threading
import time
from importlib.metadata import version
from typing import Annotated, Any

import engineio.async_drivers.asgi
import pytest
import requests
import socketio
import socketio.base_manager
import uvicorn
from fastapi import APIRouter, Depends, FastAPI, Header, Request
from fastapi.dependencies.models import Dependant
from pydantic import BaseModel
from starlette.types import Receive, Scope, Send

from server import cli
from server.api import fast_path
from server.rooms import IndexedRooms
from support.asgi import call


def pinned(package: str) -> str:
    """What a failure says: the package and the version the server was written against (installed now)."""
    return f"{package} (pinned in pyproject.toml; installed {version(package)}) changed what the server relies on:"


def self_attributes(function: Any) -> set[str]:
    """The ``self.<name>`` attributes a method's source reads or calls."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    return {node.attr for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self"}


# --- python-socketio ----------------------------------------------------------------------------------------


def test_socketio_disconnect_cleans_up_exactly_what_indexed_rooms_cleans_up() -> None:
    """``IndexedRooms.basic_disconnect`` replaces ``BaseManager.basic_disconnect``'s room scan with an index and
    repeats the rest of it by hand: rooms, callbacks, pending_connect, pending_disconnect (whose absence in 5.16
    made every disconnect raise). A new attribute cleaned up upstream must be cleaned up here too.
    tests/server/test_rooms.py checks the bookkeeping against the library's own manager."""
    why = pinned("python-socketio")
    upstream = self_attributes(socketio.base_manager.BaseManager.basic_disconnect)
    assert upstream == {"rooms", "basic_leave_room", "callbacks", "pending_connect", "pending_disconnect"}, \
        f"{why} BaseManager.basic_disconnect now touches {sorted(upstream)}"
    ours = self_attributes(IndexedRooms.basic_disconnect) - {"_joined"}
    assert ours == upstream, f"{why} IndexedRooms.basic_disconnect touches {sorted(ours)}, upstream {sorted(upstream)}"
    fresh = socketio.AsyncManager()
    kept = ("rooms", "callbacks", "pending_connect", "pending_disconnect")
    assert all(getattr(fresh, name) == {} for name in kept), f"{why} AsyncManager no longer starts {kept} as dicts"
    assert list(inspect.signature(socketio.AsyncManager.basic_enter_room).parameters) == \
        ["self", "sid", "namespace", "room", "eio_sid"], f"{why} basic_enter_room's signature"
    assert list(inspect.signature(socketio.AsyncManager.basic_leave_room).parameters) == \
        ["self", "sid", "namespace", "room"], f"{why} basic_leave_room's signature"


def test_socketio_initialises_its_manager_once_behind_the_flag_the_gateway_sets() -> None:
    """``SocketGateway.start`` subscribes the Redis manager at start-up by doing what python-socketio does at
    the first connection, flag included (no public call exists). tests/server/test_cluster.py shows events
    crossing processes."""
    why = pinned("python-socketio")
    source = inspect.getsource(socketio.AsyncServer._handle_eio_connect)
    assert re.search(r"if not self\.manager_initialized:\s+self\.manager_initialized = True\s+"
                     r"self\.manager\.initialize\(\)", source), f"{why} _handle_eio_connect's manager start-up"
    assert socketio.AsyncServer(async_mode="asgi").manager_initialized is False, f"{why} manager_initialized"
    subscribe = inspect.getsource(socketio.AsyncRedisManager.initialize)
    assert "start_background_task(self._thread)" in subscribe, f"{why} the Redis manager subscribes elsewhere"


def test_socketio_keeps_the_very_environ_dict_engineio_hands_it() -> None:
    """``shed_environ`` empties the handshake environ in place: that frees memory only while python-socketio keeps
    the same dict engine.io built, not a copy. tests/server/test_shed_environ.py closes a socket after shedding."""
    why = pinned("python-socketio")
    assert "self.environ[eio_sid] = environ" in inspect.getsource(socketio.AsyncServer._handle_eio_connect), \
        f"{why} _handle_eio_connect no longer stores engine.io's environ as it is"


# --- python-engineio ----------------------------------------------------------------------------------------


def test_engineio_answers_a_websocket_with_the_asgi_entries_alone() -> None:
    """What engine.io's ASGI adapter reads of an environ once the handshake is over: only the ``asgi.*`` entries
    ``shed_environ`` keeps."""
    why = pinned("python-engineio")
    source = inspect.getsource(engineio.async_drivers.asgi.make_response)
    read = set(re.findall(r"environ\[['\"]([^'\"]+)['\"]\]", source)) | set(
        re.findall(r"environ\.get\(['\"]([^'\"]+)['\"]", source))
    assert read and all(key.startswith("asgi.") for key in read), f"{why} make_response reads {sorted(read)}"


# --- uvicorn ------------------------------------------------------------------------------------------------


def test_uvicorn_server_run_serves_our_socket_on_uvloop() -> None:
    """``serve`` hands its own TCP socket to ``uvicorn.Server.run`` (public), which must serve it on the loop
    ``uvicorn.run`` picks: uvloop (docs/scaling.md). The socket stays TCP, so the loop sets TCP_NODELAY."""
    why = pinned("uvicorn")
    loops: list[str] = []

    async def probe(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        loops.append(type(asyncio.get_running_loop()).__module__)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})

    sock = cli._listen("127.0.0.1", 0)
    assert (sock.family, sock.type, sock.proto) == (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    server = uvicorn.Server(uvicorn.Config(probe, lifespan="off", log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60  # a bound for a broken upgrade, not a wait: it ends when started
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, f"{why} Server.run(sockets=…) did not start"
            time.sleep(0.01)
        answer = requests.get(f"http://127.0.0.1:{sock.getsockname()[1]}/", timeout=30)
        assert answer.text == "ok"
    finally:
        server.should_exit = True
        thread.join(60)
    assert loops == ["uvloop"], f"{why} Server.run served on {loops}, not uvloop"


# --- fastapi ------------------------------------------------------------------------------------------------


def test_fastapi_dependant_has_the_fields_the_fast_path_reads() -> None:
    why = pinned("fastapi")
    fields = {field.name for field in dataclasses.fields(Dependant)}
    read = {"dependencies", "name", "call", "use_cache", "request_param_name", "body_params", *fast_path._UNSUPPORTED}
    assert read <= fields, f"{why} Dependant lost {sorted(read - fields)}"


class Body(BaseModel):
    n: int


#: What the toy route's dependencies were called for, in order (module level, as FastAPI resolves the
#: string annotations of ``from __future__ import annotations`` in the module's globals).
calls: list[str] = []



async def clock(request: Request) -> str:
    calls.append("clock")
    return f"now:{request.url.path}"


async def config() -> str:
    calls.append("config")
    return "config"


async def caller(request: Request, now: Annotated[str, Depends(clock)],
                 settings: Annotated[str, Depends(config)]) -> str:
    calls.append("caller")
    return f"caller({now},{settings})"


async def charged(who: Annotated[str, Depends(caller)]) -> str:
    calls.append("charged")
    return f"charged({who})"


def test_the_fast_path_solves_a_route_as_fastapi_does() -> None:
    """The same route through FastAPI and through the fast path's solver: the same dependencies called, in the
    same order (sub-dependencies first, each once per request), and the same arguments for the route."""
    calls.clear()
    router = APIRouter()

    @router.post("/thing")
    async def thing(body: Body, who: Annotated[str, Depends(charged)], now: Annotated[str, Depends(clock)],
                    request: Request) -> dict[str, Any]:
        return {"n": body.n, "who": who, "now": now, "path": request.url.path}

    api = FastAPI()
    api.include_router(router, prefix=fast_path.PREFIX)

    async def scenario() -> tuple[list[str], Any, list[str], Any]:
        _status, _headers, through_fastapi = await call(api, ("POST", "/api/v1/thing"),
                                                        {"Content-Type": "application/json"}, [b'{"n": 3}'])
        by_fastapi, calls[:] = list(calls), []
        answered = fast_path.Answered("POST", "/api/v1/thing", router)
        request = Request({"type": "http", "method": "POST", "path": "/api/v1/thing", "headers": [],
                           "query_string": b"", "server": ("test", 80), "scheme": "http", "root_path": ""})
        through_fast_path = await answered(Body(n=3), request)  # type: ignore[arg-type]  # the route's dict
        return by_fastapi, through_fastapi, list(calls), through_fast_path

    by_fastapi, answer, by_fast_path, result = asyncio.run(scenario())
    assert by_fastapi == ["clock", "config", "caller", "charged"], f"{pinned('fastapi')} solved {by_fastapi}"
    assert by_fast_path == by_fastapi
    assert result == answer == {"n": 3, "who": "charged(caller(now:/api/v1/thing,config))",
                                "now": "now:/api/v1/thing", "path": "/api/v1/thing"}


async def a_session() -> Any:
    yield "session"

async def an_agent(user_agent: Annotated[str, Header()]) -> str:
    return user_agent


def test_the_fast_path_refuses_a_route_it_cannot_answer_whole() -> None:
    """A dependency or parameter the fast path cannot supply stops the app from being built, rather than being
    skipped for valid requests."""
    for extra in (Annotated[Any, Depends(a_session)], Annotated[str, Depends(an_agent)], Annotated[str, Header()]):
        router = APIRouter()

        async def route(body: Body, extra: Any) -> None:
            return None

        route.__annotations__ = {"body": Body, "extra": extra, "return": None}  # not a string: a local name

        router.add_api_route("/thing", route, methods=["POST"])
        with pytest.raises(TypeError, match="FastPath cannot answer POST /api/v1/thing"):
            fast_path.Answered("POST", "/api/v1/thing", router)
