"""``POST /api/v1/activity`` without FastAPI's per-request machinery, for the uploads that are in order.

Uploads are the server's busiest route: every agent posts a batch every five minutes, and a company's agents
come back from a network outage together. py-spy of upload waves put about a quarter of the server's time in
FastAPI and Starlette around the route (its middleware stack, dependency solving, request and response
wrappers), more than in storing the batches. So an upload whose body is a valid ``ActivityBatch`` is
answered here: the same dependencies (``get_principal``, ``writer``) called in the order FastAPI calls them,
then the route's own ``post_activity``, and its errors answered by the same functions as FastAPI's handlers.

Everything else goes to FastAPI unchanged, with the body already read handed on: other routes, a body that is
not JSON or not a valid batch (FastAPI checks the token first and then words the refusal, as it always has),
and the OpenAPI schema, which still describes the route from its declaration.
"""

from __future__ import annotations

from fastapi import FastAPI
from pydantic import ValidationError
from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send

from protocol.schema import ActivityBatch
from server.api.deps import get_hub, get_now, get_principal, get_settings, writer
from server.api.routes.activity import post_activity
from server.errors import UNAVAILABLE, ApiError, api_error_response, unavailable_response

PATH = "/api/v1/activity"


class ActivityFastPath:
    """ASGI middleware in front of the FastAPI app ``api``: answers valid uploads itself (see the module)."""

    def __init__(self, api: FastAPI) -> None:
        self.api = api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST" or not _json(scope):
            await self.api(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:  # the client left before sending it all: nobody to answer
            return
        try:
            batch = ActivityBatch.model_validate_json(body)
        except ValidationError:
            await self.api(scope, _replay(body, receive), send)
            return
        scope["app"] = self.api  # what Starlette sets before a route runs: the dependencies read app.state
        request = Request(scope, receive)
        try:
            now, settings, hub = await get_now(request), await get_settings(request), await get_hub(request)
            principal = await writer(request, await get_principal(request, now, settings, hub))
            result = await post_activity(batch, principal, now, settings, hub, request)
        except ApiError as exc:
            response = api_error_response(exc)
        except UNAVAILABLE as exc:
            response = unavailable_response(exc)
        else:
            payload = result.model_dump_json().encode()
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
