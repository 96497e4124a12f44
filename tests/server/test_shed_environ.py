"""``server.gateway.shed_environ`` drops what a socket's handshake environ holds, and engine.io can still end the
socket with what is left: the environ is built by engine.io's own ASGI adapter from a websocket handshake,
shed, then handed to the adapter's ``make_response`` as engine.io does when a websocket closes."""

from __future__ import annotations

import asyncio

from engineio.async_drivers.asgi import make_response, translate_request
from starlette.types import Message

from server.gateway import shed_environ


def test_only_the_asgi_entries_stay_and_the_socket_can_still_be_closed() -> None:
    scope = {"type": "websocket", "path": "/api/socket/", "query_string": b"EIO=4&transport=websocket",
             "headers": [(b"host", b"staffpulse.example"), (b"user-agent", b"StaffPulse/1.0"),
                         (b"sec-websocket-key", b"dGhlIHNhbXBsZSBub25jZQ=="), (b"upgrade", b"websocket")]}
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    async def send(message: Message) -> None:
        sent.append(message)

    async def scenario() -> None:
        environ = await translate_request(scope, receive, send)
        assert environ["HTTP_USER_AGENT"] == "StaffPulse/1.0" and "wsgi.input" in environ
        shed_environ(environ)
        assert sorted(environ) == ["asgi.receive", "asgi.scope", "asgi.send"]
        await make_response("200 OK", [], "", environ)  # engine.io's answer once a websocket has ended
        await make_response("400 BAD REQUEST", [], "gone", environ)

    asyncio.run(scenario())
    assert sent == [{"type": "websocket.accept", "headers": []}, {"type": "websocket.close", "reason": "gone"}]
