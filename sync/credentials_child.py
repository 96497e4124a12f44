"""Linux: the token store in a short-lived child process, so keyring and its Secret Service backend never load
into the long-running agent (``sync.credentials`` says why and chooses it).

``ChildStore`` runs ``python -m sync.credentials_child`` for each read or write. The request (the operation, the
server URL and, to save, the token) goes to the child on its stdin and the answer comes back on its stdout, both
JSON: the token is never on a command line, in the environment or in a log. The child inherits the agent's
environment (keyring's backend settings, the session bus, the plaintext permission) and runs ``CredentialStore``
itself, so it decides exactly as the agent would in-process; the child's ``KeyringUnavailable`` is raised again
here with its message, and its log lines (never a token) go to the agent's log.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
from typing import Any

from sync.credentials import CredentialStore
from sync.errors import KeyringUnavailable

log = logging.getLogger(__name__)

#: A locked keyring may ask the person to unlock it: the child waits as long as the agent would have.
TIMEOUT_S = 120.0
OPERATIONS = ("check", "load", "save", "delete")
SPAWN_ATTEMPTS = 3


class ChildStore:
    """``CredentialStore``'s operations, each in a child process."""

    def check(self) -> None:
        _ask("check", "")

    def load(self, server_url: str) -> str | None:
        return _ask("load", server_url)

    def save(self, server_url: str, token: str) -> None:
        _ask("save", server_url, token)

    def delete(self, server_url: str) -> None:
        _ask("delete", server_url)


def _ask(operation: str, server_url: str, token: str | None = None) -> str | None:
    request = json.dumps({"operation": operation, "server_url": server_url, "token": token})
    for attempt in range(1, SPAWN_ATTEMPTS + 1):
        try:
            done = _run_child(request)
            break
        except OSError as exc:  # the child could not be started (a busy machine: EAGAIN); the agent's start
            # must not take that for "not enrolled", so it tries again at once before giving up
            log.warning("the keyring helper process could not start (attempt %d): %s", attempt, exc)
            if attempt == SPAWN_ATTEMPTS:
                raise KeyringUnavailable(f"the OS keyring did not answer ({type(exc).__name__})") from exc
    try:
        answer = json.loads(done.stdout) if done.returncode == 0 else None
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        last = done.stderr.strip().splitlines()[-1:] or ["no output"]
        log.error("the keyring helper process failed (exit %s): %s", done.returncode, last[0])
        raise KeyringUnavailable("the OS keyring could not be used (the log says why)")
    for name, level, message in answer["log"]:
        logging.getLogger(name).log(level, "%s", message)
    if answer["refused"] is not None:
        raise KeyringUnavailable(answer["refused"])
    stored: str | None = answer["token"]
    return stored


def _run_child(request: str) -> subprocess.CompletedProcess[str]:
    """The child's answer to ``request``, killed after ``TIMEOUT_S``. The deadline is a timer thread rather
    than ``subprocess.run(timeout=…)``, whose wait polls with ``time.sleep``: under libfaketime (the fault tests
    run the agent on a faked clock) that sleep fails now and then with EINVAL, and the agent started as "not
    enrolled". A blocking wait has no such sleep."""
    with subprocess.Popen([sys.executable, "-m", "sync.credentials_child"], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as child:
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            child.kill()

        deadline = threading.Timer(TIMEOUT_S, expire)
        deadline.daemon = True
        deadline.start()
        try:
            stdout, stderr = child.communicate(request)
        finally:
            deadline.cancel()
    if expired.is_set():
        raise KeyringUnavailable("the OS keyring did not answer within "
                                 f"{TIMEOUT_S:.0f} s (a locked keyring waiting to be unlocked?)")
    return subprocess.CompletedProcess(child.args, child.returncode, stdout, stderr)


class _Collected(logging.Handler):
    """The child's log lines, for the agent's log."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[tuple[str, int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.name, record.levelno, record.getMessage()))


def serve(request: dict[str, Any]) -> dict[str, Any]:
    """One operation with this process's ``CredentialStore``: the child's side of ``_ask``."""
    collected = _Collected()
    logging.getLogger().addHandler(collected)
    logging.getLogger().setLevel(logging.INFO)
    operation, url = request["operation"], request["server_url"]
    if operation not in OPERATIONS:
        raise ValueError(f"unknown operation {operation!r}")
    token, refused = None, None
    try:
        store = CredentialStore()
        if operation == "load":
            token = store.load(url)
        elif operation == "save":
            store.save(url, request["token"])
        elif operation == "delete":
            store.delete(url)
        else:
            store.check()
    except KeyringUnavailable as exc:
        refused = str(exc)
    finally:
        logging.getLogger().removeHandler(collected)
    return {"token": token, "refused": refused, "log": collected.lines}


if __name__ == "__main__":
    sys.stdout.write(json.dumps(serve(json.loads(sys.stdin.read()))))
