"""A socket.io client cut down to what the load tool needs: one websocket, the handshake, pongs and events.

python-socketio's ``AsyncClient`` runs an engine.io read loop, a write loop and a queue per socket and
dispatches every event through its handler machinery; with the tool's client processes on the same cores as
the server, 5,000 of them measured themselves (the Node reference needed as long as ours to get 5,000 of them
back after a restart, and its fan-out tail was theirs). This one speaks the wire protocol directly over an
aiohttp websocket: engine.io v4 (``0`` open, ``2`` ping → ``3`` pong, ``4`` message, ``1`` close) carrying
socket.io v5 (``0`` connect with the ``auth`` payload, ``2`` event, ``1`` disconnect, ``4`` connect error),
namespace ``/`` only, text frames only, no acks.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import aiohttp

OnEvent = Callable[[str, Any], None]


class Refused(Exception):
    """The server answered the connect with a socket.io connect error (its message is the exception's)."""


class WireSocket:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    @classmethod
    async def connect(cls, http: aiohttp.ClientSession, url: str, path: str, auth: dict[str, Any]) -> WireSocket:
        """Open the websocket, read engine.io's open packet, connect to ``/`` with ``auth``; raise ``Refused``
        or a transport error."""
        ws = await http.ws_connect(f"{url.replace('http', 'ws', 1)}{path}/?EIO=4&transport=websocket",
                                   autoclose=True, autoping=True, max_msg_size=0)
        socket = cls(ws)
        try:
            opened = await socket._text()
            if not opened.startswith("0"):
                raise ConnectionError(f"expected engine.io open, got {opened[:40]!r}")
            await ws.send_str("40" + json.dumps(auth))
            while True:
                answer = await socket._text()
                if answer == "2":
                    await ws.send_str("3")
                elif answer.startswith("40"):
                    return socket
                elif answer.startswith("44"):
                    raise Refused(str(json.loads(answer[2:]).get("message", answer)))
                else:
                    raise ConnectionError(f"unexpected packet before connect: {answer[:40]!r}")
        except BaseException:
            await ws.close()
            raise

    async def _text(self) -> str:
        message = await self.ws.receive()
        if message.type != aiohttp.WSMsgType.TEXT:
            raise ConnectionError(f"websocket {message.type.name.lower()}")
        text: str = message.data
        return text

    async def serve(self, on_event: OnEvent) -> None:
        """Answer pings and pass events to ``on_event`` until the socket ends, however it ends."""
        try:
            while True:
                try:
                    packet = await self._text()
                except ConnectionError:
                    return
                if packet == "2":
                    await self.ws.send_str("3")
                elif packet.startswith("42"):
                    name, *args = json.loads(packet[2:])
                    on_event(name, args[0] if args else None)
                elif packet.startswith(("41", "1")):
                    return
        except (aiohttp.ClientError, ConnectionResetError):
            return
        finally:
            await self.ws.close()

    async def close(self) -> None:
        if not self.ws.closed:
            await self.ws.send_str("41")
            await self.ws.close()
