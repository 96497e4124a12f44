"""The python-socketio and python-engineio internals ``server.socket_guard`` overrides or reads, pinned: each test
fails loudly if an upgrade renames, re-signs or rewires one, before the guard silently stops guarding. The
behaviour they make possible is tested end to end in tests/security/test_socket_protocol.py. The server's other
third-party internals (rooms, the Redis manager's start-up, the handshake environ, uvicorn's Server.run,
FastAPI's Dependant) are pinned in tests/server/test_third_party_internals.py."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import engineio
import engineio.async_drivers.asgi
import engineio.async_socket
import engineio.packet
import engineio.payload
import socketio
import socketio.packet
import uvicorn
import uvicorn.protocols.websockets.wsproto_impl

from server import socket_guard
from server.socket_guard import GuardedEngineIO, GuardedServer


def parameters(function: Callable[..., Any]) -> list[str]:
    return list(inspect.signature(function).parameters)


def guarded() -> GuardedServer:
    return GuardedServer(async_mode="asgi", connect_timeout_s=45, packet_burst=30, packet_rate_per_s=1,
                         allowed_origins=())


def test_engineio_events_reach_the_overridden_handlers() -> None:
    """python-socketio registers its own bound methods as engine.io's connect/message/disconnect handlers in
    ``BaseServer.__init__``, so the subclass's overrides are the ones engine.io calls."""
    server = guarded()
    assert server.eio.handlers["connect"] == server._handle_eio_connect
    assert server.eio.handlers["message"] == server._handle_eio_message
    assert server.eio.handlers["disconnect"] == server._handle_eio_disconnect
    assert type(server)._handle_eio_message is not socketio.AsyncServer._handle_eio_message


def test_the_engineio_server_is_built_by_the_overridable_factory() -> None:
    assert isinstance(guarded().eio, GuardedEngineIO)
    assert "_engineio_server_class()(" in inspect.getsource(socketio.base_server.BaseServer.__init__)


def test_the_handlers_the_guard_calls_keep_their_signatures() -> None:
    assert parameters(socketio.AsyncServer._handle_eio_message) == ["self", "eio_sid", "data"]
    assert parameters(socketio.AsyncServer._handle_eio_connect) == ["self", "eio_sid", "environ"]
    assert parameters(socketio.AsyncServer._handle_eio_disconnect) == ["self", "eio_sid", "reason"]
    assert parameters(socketio.AsyncServer._handle_connect) == ["self", "eio_sid", "namespace", "data"]
    assert parameters(socketio.AsyncServer._handle_disconnect) == ["self", "eio_sid", "namespace", "reason"]
    assert parameters(socketio.AsyncServer._send_packet) == ["self", "eio_sid", "pkt"]
    assert parameters(socketio.AsyncManager.sid_from_eio_sid) == ["self", "eio_sid", "namespace"]
    assert parameters(socketio.AsyncManager.is_connected) == ["self", "sid", "namespace"]
    assert socketio.AsyncServer.reason.CLIENT_DISCONNECT == "client disconnect"


def test_python_socketio_itself_dispatches_events_to_handlers() -> None:
    """Why the dispatcher is replaced: upstream, an EVENT packet runs ``_handle_event`` (reserved names
    included). If this stops being true, revisit the override rather than delete it."""
    source = inspect.getsource(socketio.AsyncServer._handle_eio_message)
    assert "_handle_event(" in source and "_binary_packet" in source
    assert socketio.base_server.BaseServer.reserved_events == ["connect", "disconnect"]


def test_packet_type_numbers_match_the_guards() -> None:
    guard = socket_guard
    assert [str(t) for t in (socketio.packet.CONNECT, socketio.packet.DISCONNECT, socketio.packet.EVENT,
                             socketio.packet.ACK, socketio.packet.BINARY_EVENT, socketio.packet.BINARY_ACK)] == \
        [guard.CONNECT, guard.DISCONNECT, guard.EVENT, guard.ACK, guard.BINARY_EVENT, guard.BINARY_ACK]
    assert str(engineio.packet.OPEN) == guard.ENGINEIO_OPEN
    assert str(engineio.packet.MESSAGE) == guard.ENGINEIO_MESSAGE
    assert {str(t) for t in (engineio.packet.CLOSE, engineio.packet.PING, engineio.packet.PONG,
                             engineio.packet.MESSAGE, engineio.packet.UPGRADE, engineio.packet.NOOP)} == \
        guard.ENGINEIO_CLIENT_TYPES


def test_engineio_asgi_passes_receive_and_send_through_handle_request() -> None:
    """The ``FrameGuard`` wraps the ASGI callables ``handle_request`` is given; engine.io's websocket wrapper
    must read frames only through them, and treat anything but ``websocket.receive`` as the end."""
    assert "handle_request(scope, receive, send)" in inspect.getsource(engineio.async_drivers.asgi.ASGIApp)
    translate = inspect.getsource(engineio.async_drivers.asgi.translate_request)
    assert "'asgi.receive': receive" in translate and "'asgi.send': send" in translate
    wait = inspect.getsource(engineio.async_drivers.asgi.WebSocket.wait)
    assert "!= 'websocket.receive'" in wait and "raise OSError" in wait


def test_engineio_checks_origins_with_a_callable() -> None:
    source = inspect.getsource(engineio.base_server.BaseServer._cors_allowed_origins)
    assert "self.cors_allowed_origins(origin, environ)" in source
    assert "cors_allowed_origins != []" in inspect.getsource(engineio.AsyncServer.handle_request)
    assert isinstance(guarded().eio.cors_allowed_origins, socket_guard.OriginCheck)


def test_both_libraries_log_through_the_quiet_log() -> None:
    server = guarded()
    assert server.logger is socket_guard.QUIET and server.eio.logger is socket_guard.QUIET


def test_engineio_sessions_and_disconnect_are_where_the_guard_looks() -> None:
    assert parameters(engineio.AsyncServer.disconnect) == ["self", "sid"]
    assert guarded().eio.guards == {}


def test_uvicorn_wsproto_honours_the_deflate_and_size_settings() -> None:
    """``serve`` turns permessage-deflate off and caps a websocket message through uvicorn's config; its wsproto
    protocol must read both (``test_permessage_deflate_is_declined`` checks the first end to end)."""
    source = inspect.getsource(uvicorn.protocols.websockets.wsproto_impl)
    assert "if self.config.ws_per_message_deflate:" in source
    assert "WebsocketBuffer(self.config.ws_max_size)" in source and "raise FrameTooLargeError" in source
    assert {"ws_per_message_deflate", "ws_max_size"} <= set(parameters(uvicorn.Config.__init__))


def test_engineio_polling_internals_the_guard_screens_with() -> None:
    """``GuardedEngineIO`` answers a polling request itself when engine.io would fail on it, reads a POST's body
    before engine.io and hands it on through ``receive``, and screens it with engine.io's own decoder."""
    server = guarded().eio
    post = inspect.getsource(engineio.AsyncServer.handle_request)
    assert "socket = self._get_socket(sid)" in post  # unguarded on POST: a closed session raised KeyError
    assert inspect.getsource(engineio.base_server.BaseServer._get_socket).count("raise KeyError") == 2
    assert server._bad_request("x") == {"status": "400 BAD REQUEST", "headers": [("Content-Type", "text/plain")],
                                        "response": b'"x"'}
    translate = inspect.getsource(engineio.async_drivers.asgi.translate_request)
    assert "event = await receive()" in translate and "while self.event.get('more_body'):" in translate
    assert "int(environ.get('CONTENT_LENGTH', '0'))" in inspect.getsource(
        engineio.async_socket.AsyncSocket.handle_post_request)
    assert engineio.payload.Payload.max_decode_packets == 16
    assert [p.packet_type for p in engineio.payload.Payload(encoded_payload="3\x1e4x").packets] == [3, 4]
    assert isinstance(server.max_http_buffer_size, int)


def test_engineio_takes_only_these_packets_over_polling() -> None:
    """``POLLING_CLIENT_TYPES``: engine.io's socket handles PONG, MESSAGE, UPGRADE and CLOSE and raises for the
    rest, which over polling closed the session (and hung the request, see below)."""
    receive = inspect.getsource(engineio.async_socket.AsyncSocket.receive)
    handled = {t for t, name in enumerate(engineio.packet.packet_names) if f"packet.{name}:" in receive}
    assert handled == socket_guard.POLLING_CLIENT_TYPES
    assert "raise exceptions.UnknownPacketError()" in receive


def test_engineio_closes_a_polling_socket_as_the_guard_does() -> None:
    """``end_polling`` closes without waiting: engine.io's ``disconnect`` waits (``close``'s default) for the
    client to fetch the CLOSE packet, which a hostile one never does."""
    close = inspect.signature(engineio.async_socket.AsyncSocket.close)
    assert list(close.parameters) == ["self", "wait", "abort", "reason"]
    assert close.parameters["wait"].default is True
    assert "await socket.close(reason=" in inspect.getsource(engineio.AsyncServer.disconnect)
    assert "self.closing = True" in inspect.getsource(engineio.async_socket.AsyncSocket.close)
    assert engineio.AsyncServer.reason.SERVER_DISCONNECT == "server disconnect"


def test_engineio_decodes_websocket_json_outside_its_try() -> None:
    """Why ``FrameGuard`` decodes a frame whose data engine.io parses as JSON: a bottomless one raised
    ``RecursionError`` out of engine.io's websocket loop (a traceback), as it raises nothing else there."""
    handler = inspect.getsource(engineio.async_socket.AsyncSocket._websocket_handler)
    assert "pkt = packet.Packet(encoded_packet=p)\n            try:" in handler
    decode = inspect.getsource(engineio.packet.Packet.decode)
    assert "if encoded_packet[1].isnumeric():" in decode and "except (ValueError, IndexError):" in decode
