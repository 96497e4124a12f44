"""The two write routes every agent calls all day, without FastAPI's per-request machinery when in order.

``POST /api/v1/activity`` (a batch every five minutes) and ``PUT /api/v1/presence`` (every state change) are
the server's busiest routes, and both arrive in storms: a company's agents coming back from a network outage,
or changing state at the top of the hour. py-spy of upload waves put about a quarter of the server's time in
FastAPI and Starlette around the route (its middleware stack, dependency solving, request and response
wrappers), more than in storing the batches. So a request to one of them whose body is valid is answered
here: the same dependencies (``get_principal``, ``writer``) called in the order FastAPI calls them, then the
route's own function, and its errors answered by the same functions as FastAPI's handlers.

Everything else goes to FastAPI unchanged, with the body already read handed on: other routes, a body that is
not JSON or not valid (FastAPI checks the token first and then words the refusal, as it always has), and the
OpenAPI schema, which still describes both routes from their declarations.

Middleware added to the FastAPI app does not run for the requests answered here: put what must see every
request outside ``FastPath``, as ``server.app`` does with ``BodySizeLimit``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send

from protocol.schema import ActivityBatch, PresenceUpdate
from server.api.deps import get_hub, get_now, get_principal, get_settings, writer
from server.api.routes.activity import post_activity
from server.api.routes.presence import put_presence
from server.auth import Principal
from server.config import Settings
from server.errors import UNAVAILABLE, ApiError, api_error_response, unavailable_response
from server.live import LiveHub


async def _caller(request: Request) -> tuple[Principal, datetime, Settings, LiveHub]:
    """The writing device, charged one write, with the clock's now, the settings and the hub."""
    now, settings, hub = await get_now(request), await get_settings(request), await get_hub(request)
    return await writer(request, await get_principal(request, now, settings, hub)), now, settings, hub


async def _activity(batch: Any, request: Request) -> BaseModel:
    principal, now, settings, hub = await _caller(request)
    return await post_activity(batch=batch, principal=principal, now=now, settings=settings, hub=hub, request=request)


async def _presence(update: Any, request: Request) -> BaseModel:
    principal, now, _settings, hub = await _caller(request)
    return await put_presence(update=update, principal=principal, now=now, hub=hub)


#: (method, path) → (the body's model, what answers it): the FastAPI route's dependencies, then the route.
ROUTES: dict[tuple[str, str], tuple[type[BaseModel], Callable[[Any, Request], Awaitable[BaseModel]]]] = {
    ("POST", "/api/v1/activity"): (ActivityBatch, _activity),
    ("PUT", "/api/v1/presence"): (PresenceUpdate, _presence),
}


class FastPath:
    """ASGI middleware in front of the FastAPI app ``api``: answers valid writes itself (see the module)."""

    def __init__(self, api: FastAPI) -> None:
        self.api = api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = ROUTES.get((scope["method"], scope["path"])) if scope["type"] == "http" else None
        if route is None or not _json(scope):
            await self.api(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:  # the client left before sending it all: nobody to answer
            return
        model, answer = route
        try:
            parsed = model.model_validate_json(body)
        except ValidationError:
            await self.api(scope, _replay(body, receive), send)
            return
        scope["app"] = self.api  # what Starlette sets before a route runs: the dependencies read app.state
        try:
            result = await answer(parsed, Request(scope, receive))
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
