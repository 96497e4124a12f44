"""The running agent's control channel: ``staffpulse sync-now`` and ``status`` from a second process.

``multiprocessing.connection`` gives a Unix socket (a named pipe on Windows) with a shared-key handshake, so
only processes that can read the key file — the same user — may talk to the agent. Requests and answers are
small JSON objects; the agent answers ``{"ok": True, …}`` or ``{"ok": False, "error": …}``.

Messages are JSON bytes (``send_bytes``/``recv_bytes`` with a size bound), never pickles: the connection's own
``send``/``recv`` unpickle whatever arrives, and unpickling runs code, so a process that got hold of the key
(or a bug in a client) could run anything inside the agent. Malformed, oversized or non-object messages get an
error answer naming the problem, and the channel goes on serving.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import logging
import os
import secrets
import sys
from collections.abc import Callable
from multiprocessing.connection import Client, Listener
from pathlib import Path
from typing import Any

from sync.worker import Worker

log = logging.getLogger(__name__)

KEY_FILE = "control.key"
MAX_REQUEST_BYTES = 64 * 1024  # a request is a command and a flag or two
MAX_ANSWER_BYTES = 1024 * 1024  # an answer may list new devices; still small
_LOGGED_FAILURES = 5  # refused control connections logged per agent run
_FAILURE_PAUSE_S = 0.05
Handler = Callable[[dict[str, Any]], dict[str, Any]]


def _address(data_dir: Path) -> str:
    """A named pipe per user on Windows, a socket file in the data dir elsewhere; the key keeps others out."""
    return rf"\\.\pipe\StaffPulse-{getpass.getuser()}" if sys.platform == "win32" else str(data_dir / "control.sock")


def _family() -> str:
    return "AF_PIPE" if sys.platform == "win32" else "AF_UNIX"


class ControlServer(Worker):
    """Answers one request per connection on its thread; ``close`` (or ``stop``) ends it."""

    def __init__(self, data_dir: Path, handler: Handler) -> None:
        super().__init__("control")
        self._data_dir, self._handler = data_dir, handler
        key = secrets.token_bytes(32)
        key_path = data_dir / KEY_FILE
        descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(key)
        address = _address(data_dir)
        if _family() == "AF_UNIX":
            Path(address).unlink(missing_ok=True)  # left by a killed agent
        self._listener = Listener(address, family=_family(), authkey=key)

    def close(self) -> None:
        self.stop(timeout=0)
        (self._data_dir / KEY_FILE).unlink(missing_ok=True)

    def wake(self) -> None:
        """The thread waits in ``accept``: closing the listener ends that wait."""
        self._listener.close()

    def _run(self) -> None:
        failures = 0
        while not self.stopping:
            try:
                connection = self._listener.accept()
            except Exception as exc:  # a client failing the handshake must not end the channel
                if self._stopping.is_set():  # (not ``stopping``: mypy takes the loop's test as still true)
                    return  # ``wake`` closed the listener
                # A client killed mid-handshake (ConnectionResetError, BrokenPipeError, EOFError), a wrong key
                # (AuthenticationError): the next client is served. Logged for the first few only, so a
                # misbehaving client cannot fill the log; a short pause, so a failing accept cannot spin.
                failures += 1
                if failures <= _LOGGED_FAILURES:
                    log.warning("control connection refused (%s: %s)%s", type(exc).__name__, exc,
                                "; further ones are not logged" if failures == _LOGGED_FAILURES else "")
                if self._pause(_FAILURE_PAUSE_S):
                    return
                continue
            with connection, contextlib.suppress(OSError):  # the client may be gone before the answer
                connection.send_bytes(self._answer(connection.recv_bytes))

    def _answer(self, receive: Callable[[int], bytes]) -> bytes:
        try:
            request = _decode(receive(MAX_REQUEST_BYTES))
        except (OSError, EOFError, ValueError) as exc:  # too long, the client left, or not a JSON object
            log.warning("control request refused: %s", exc)
            return json.dumps({"ok": False, "error": f"request refused: {exc}"}).encode()
        try:
            return json.dumps(self._handler(request)).encode()
        except Exception as exc:  # a failing command must not end the channel
            log.exception("control request failed")
            return json.dumps({"ok": False, "error": str(exc)}).encode()


def send(data_dir: Path, request: dict[str, Any], timeout: float = 30.0) -> dict[str, Any] | None:
    """Ask the running agent; ``None`` when no agent runs for this data dir."""
    key_path = data_dir / KEY_FILE
    try:
        key = key_path.read_bytes()
        connection = Client(_address(data_dir), family=_family(), authkey=key)
    except (FileNotFoundError, ConnectionRefusedError):
        return None
    with connection:
        connection.send_bytes(json.dumps(request).encode())
        if not connection.poll(timeout):
            raise TimeoutError(f"the running agent did not answer {request.get('command')!r} in {timeout} s")
        return _decode(connection.recv_bytes(MAX_ANSWER_BYTES))


def _decode(message: bytes) -> dict[str, Any]:
    """A JSON object, or ``ValueError`` saying what the message was instead; nothing else is ever evaluated."""
    try:
        value = json.loads(message)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:  # a pickle lands here: its first byte is 0x80
        raise ValueError(f"not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise ValueError(f"a JSON object is expected, not {type(value).__name__}")
    return value
