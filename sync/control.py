"""The running agent's control channel: ``staffpulse sync-now`` and ``status`` from a second process.

``multiprocessing.connection`` gives a Unix socket (a named pipe on Windows) with a shared-key handshake, so
only processes that can read the key file — the same user — may talk to the agent. Requests and answers are
small dicts; the agent answers ``{"ok": True, …}`` or ``{"ok": False, "error": …}``.
"""

from __future__ import annotations

import contextlib
import getpass
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
        while not self.stopping:
            try:
                connection = self._listener.accept()
            except OSError:
                return  # closed
            except Exception:  # a client failing the handshake must not end the channel
                log.warning("control connection refused", exc_info=True)
                continue
            with connection:
                try:
                    request = connection.recv()
                    answer = self._handler(request) if isinstance(request, dict) else {
                        "ok": False, "error": "request must be a dict"}
                except Exception as exc:
                    log.exception("control request failed")
                    answer = {"ok": False, "error": str(exc)}
                with contextlib.suppress(OSError):
                    connection.send(answer)


def send(data_dir: Path, request: dict[str, Any], timeout: float = 30.0) -> dict[str, Any] | None:
    """Ask the running agent; ``None`` when no agent runs for this data dir."""
    key_path = data_dir / KEY_FILE
    try:
        key = key_path.read_bytes()
        connection = Client(_address(data_dir), family=_family(), authkey=key)
    except (FileNotFoundError, ConnectionRefusedError):
        return None
    with connection:
        connection.send(request)
        if not connection.poll(timeout):
            raise TimeoutError(f"the running agent did not answer {request.get('command')!r} in {timeout} s")
        answer: dict[str, Any] = connection.recv()
        return answer
