"""Security headers on every HTTP answer the server gives: REST (FastAPI's and ``FastPath``'s), socket.io's
long-polling, and the errors the size limit answers itself.

The API answers JSON to programs, so the headers say so as strictly as browsers understand: no MIME sniffing,
no referrer, never framed, never cached (answers carry a user's activity and tokens). HSTS is sent only on
answers that travelled over TLS (``scope["scheme"]`` is ``https`` when ``serve`` terminates TLS itself, or
when a trusted proxy said so with ``X-Forwarded-Proto``): sent over plain http it would mean nothing.
A header the app already set is left as it is.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"cache-control", b"no-store"),
)
HSTS = (b"strict-transport-security", b"max-age=31536000")


class SecurityHeaders:
    """ASGI middleware adding ``HEADERS`` (and ``HSTS`` over TLS) to every HTTP answer of ``app``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = (*HEADERS, HSTS) if scope.get("scheme") == "https" else HEADERS

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers.extend(header for header in extra if header[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
