"""The two write routes every agent calls all day, without FastAPI's per-request machinery when in order.

``POST /api/v1/activity`` (a batch every five minutes) and ``PUT /api/v1/presence`` (every state change) are
the server's busiest routes, and both arrive in storms: a company's agents coming back from a network outage,
or changing state at the top of the hour. py-spy of upload waves put about a quarter of the server's time in
FastAPI and Starlette around the route (its middleware stack, dependency solving, request and response
wrappers), more than in storing the batches. So a request to one of them whose body is valid is answered
here: the dependencies the route declares, read from the route itself (``Dependant``) and called as FastAPI
calls them (sub-dependencies first, each once per request), then the route's own function, and its errors
answered by the same functions as FastAPI's handlers. A route declaring something this cannot supply (a query
or header parameter, a dependency that yields, a security scope) stops the app from being built, rather than
being answered without it.

Everything else goes to FastAPI unchanged, with the body already read handed on: other routes, a body that is
not JSON or not valid (FastAPI checks the token first and then words the refusal, as it always has), and the
OpenAPI schema, which still describes both routes from their declarations.

Middleware added to the FastAPI app does not run for the requests answered here: put what must see every
request outside ``FastPath``, as ``server.app`` does with ``BodySizeLimit``.
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send

from server.api.errors import api_error_response, unavailable_response
from server.api.routes import activity, presence
from server.errors import UNAVAILABLE, ApiError

#: Where ``server.app`` includes the routers.
PREFIX = "/api/v1"

#: (method, path) → the router holding the route answered here.
ROUTES: dict[tuple[str, str], APIRouter] = {
    ("POST", f"{PREFIX}/activity"): activity.router,
    ("PUT", f"{PREFIX}/presence"): presence.router,
}

#: What a dependency of a route answered here may declare besides other dependencies.
_UNSUPPORTED = ("path_params", "query_params", "header_params", "cookie_params", "websocket_param_name",
                "http_connection_param_name", "response_param_name", "background_tasks_param_name",
                "security_scopes_param_name", "own_oauth_scopes")


@dataclasses.dataclass(frozen=True)
class _Needs:
    """What one call takes: the request (under this name, if at all), and dependencies (parameter → call)."""

    request: str | None
    dependencies: tuple[tuple[str, Callable[..., Awaitable[Any]], _Needs], ...]


def _needs(dependant: Dependant, where: str) -> _Needs:
    """``dependant`` as this module calls it; a ``TypeError`` naming what it declares that it cannot supply."""
    dependencies = []
    for sub in dependant.dependencies:
        declared = [name for name in (*_UNSUPPORTED, "body_params") if getattr(sub, name)]
        if declared or sub.name is None or not sub.use_cache or not inspect.iscoroutinefunction(sub.call):
            raise TypeError(f"FastPath cannot answer {where}: dependency {sub.name} ({sub.call}) declares "
                            f"{declared or 'a call that is not a plain coroutine function, or no caching'}")
        dependencies.append((sub.name, sub.call, _needs(sub, where)))
    return _Needs(dependant.request_param_name, tuple(dependencies))


class Answered:
    """One route answered here: its body's model, and its dependencies solved as FastAPI solves them."""

    def __init__(self, method: str, path: str, router: APIRouter) -> None:
        where = f"{method} {path}"
        (self.route,) = [route for route in router.routes if isinstance(route, APIRoute)
                         and route.methods == {method} and PREFIX + route.path == path]
        dependant = self.route.dependant
        declared = [name for name in _UNSUPPORTED if getattr(dependant, name)]
        if declared or len(dependant.body_params) != 1 or router.dependencies or self.route.dependencies:
            raise TypeError(f"FastPath cannot answer {where}: it declares {declared or 'other than one body'}, "
                            "or router or decorator dependencies")
        self.body = dependant.body_params[0].name
        self.model: type[BaseModel] = typing.get_type_hints(self.route.endpoint)[self.body]
        self.needs = _needs(dependant, where)

    async def __call__(self, body: BaseModel, request: Request) -> BaseModel:
        values = await _solve(self.needs, request, {})
        values[self.body] = body
        result: BaseModel = await self.route.endpoint(**values)
        return result


async def _solve(needs: _Needs, request: Request, solved: dict[Callable[..., Any], Any]) -> dict[str, Any]:
    """The keyword arguments of a call: its dependencies first (theirs before them), each once per request."""
    values: dict[str, Any] = {} if needs.request is None else {needs.request: request}
    for name, call, below in needs.dependencies:
        if call not in solved:
            solved[call] = await call(**await _solve(below, request, solved))
        values[name] = solved[call]
    return values


class FastPath:
    """ASGI middleware in front of the FastAPI app ``api``: answers valid writes itself (see the module)."""

    def __init__(self, api: FastAPI) -> None:
        self.api = api
        self.routes = {key: Answered(*key, router) for key, router in ROUTES.items()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self.routes.get((scope["method"], scope["path"])) if scope["type"] == "http" else None
        if route is None or not _json(scope):
            await self.api(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:  # the client left before sending it all: nobody to answer
            return
        try:
            parsed = route.model.model_validate_json(body)
        except ValidationError:
            await self.api(scope, _replay(body, receive), send)
            return
        scope["app"] = self.api  # what Starlette sets before a route runs: the dependencies read app.state
        try:
            result = await route(parsed, Request(scope, receive))
        except ApiError as exc:
            response = api_error_response(exc)
        except UNAVAILABLE as exc:
            response = unavailable_response(exc)
        else:
            payload = result.model_dump_json(by_alias=True).encode()  # as FastAPI serializes
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(payload)).encode())]})
            await send({"type": "http.response.body", "body": payload})
            return
        await response(scope, receive, send)


def _json(scope: Scope) -> bool:
    """Whether the body is declared JSON, as FastAPI reads it (``application/json``, ``…+json``)."""
    name: bytes
    value: bytes
    for name, value in scope["headers"]:
        if name == b"content-type":
            media = value.split(b";", 1)[0].strip().lower()
            return media == b"application/json" or (media.startswith(b"application/") and media.endswith(b"+json"))
    return False


async def _read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":  # http.disconnect
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """``receive`` with the body already read handed out first."""
    pending = [body]

    async def replayed() -> Message:
        if pending:
            return {"type": "http.request", "body": pending.pop(), "more_body": False}
        return await receive()

    return replayed
