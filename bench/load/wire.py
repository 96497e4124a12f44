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

import contextlib
import json
from collections.abc import Callable
from typing import Any

import aiohttp

OnEvent = Callable[[str, Any], None]

#: Seconds a closing handshake may take before the connection is dropped (aiohttp waits 10 s by default).
CLOSE_WAIT_S = 1.0


class Refused(Exception):
    """The server answered the connect with a socket.io connect error (its message is the exception's)."""


class WireSocket:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse, silence_s: float) -> None:
        self.ws = ws
        #: No packet at all for this long (the server pings every interval) means the connection is dead.
        self.silence_s = silence_s
        #: Events that came before the connect was acknowledged: the server may emit to a room the socket
        #: joined while its connect handler still runs.
        self.early: list[str] = []

    @classmethod
    async def connect(cls, http: aiohttp.ClientSession, url: str, path: str, auth: dict[str, Any]) -> WireSocket:
        """Open the websocket, read engine.io's open packet, connect to ``/`` with ``auth``; raise ``Refused``
        or a transport error."""
        ws = await http.ws_connect(f"{url.replace('http', 'ws', 1)}{path}/?EIO=4&transport=websocket",
                                   autoclose=True, autoping=True, max_msg_size=0,
                                   timeout=aiohttp.ClientWSTimeout(ws_close=CLOSE_WAIT_S))
        try:
            opened = await _text(ws, None)
            if not opened.startswith("0"):
                raise ConnectionError(f"expected engine.io open, got {opened[:40]!r}")
            handshake = json.loads(opened[1:])
            socket = cls(ws, (handshake["pingInterval"] + handshake["pingTimeout"]) / 1000)
            await ws.send_str("40" + json.dumps(auth))
            while True:
                answer = await _text(ws, socket.silence_s)
                if answer == "2":
                    await ws.send_str("3")
                elif answer.startswith("40"):
                    return socket
                elif answer.startswith("42"):
                    socket.early.append(answer)
                elif answer.startswith("44"):
                    raise Refused(str(json.loads(answer[2:]).get("message", answer)))
                else:
                    raise ConnectionError(f"unexpected packet before connect: {answer[:40]!r}")
        except BaseException:
            await ws.close()
            raise

    async def serve(self, on_event: OnEvent) -> None:
        """Answer pings and pass events to ``on_event`` until the socket ends (returns) or the server sends
        something this client cannot read (raises ``ValueError``)."""
        try:
            for packet in self.early:
                _dispatch(packet, on_event)
            while True:
                try:
                    packet = await _text(self.ws, self.silence_s)
                except (ConnectionError, TimeoutError):
                    return
                if packet == "2":
                    await self.ws.send_str("3")
                elif packet.startswith("42"):
                    _dispatch(packet, on_event)
                elif packet.startswith(("41", "1")):
                    return
        except (aiohttp.ClientError, ConnectionResetError):
            return
        finally:
            await self.ws.close()

    async def close(self) -> None:
        if not self.ws.closed:
            with contextlib.suppress(aiohttp.ClientError, ConnectionResetError):
                await self.ws.send_str("41")
            await self.ws.close()


async def _text(ws: aiohttp.ClientWebSocketResponse, timeout: float | None) -> str:
    message = await ws.receive(timeout=timeout)
    if message.type != aiohttp.WSMsgType.TEXT:
        raise ConnectionError(f"websocket {message.type.name.lower()}")
    text: str = message.data
    return text


def _dispatch(packet: str, on_event: OnEvent) -> None:
    try:
        name, *args = json.loads(packet[2:])
    except (ValueError, TypeError) as exc:
        raise ValueError(f"unreadable event packet {packet[:40]!r}") from exc
    on_event(name, args[0] if args else None)
