"""``staffpulse --self-test``'s checks: can this build count input and reach a server? Checked without a server.

IT runs it after deploying and the release workflow runs it on the frozen app, because what breaks a frozen
build is what PyInstaller could not see: a pynput backend, a keyring backend or engine.io's websocket
transport that was never collected, or a Qt platform plugin that is missing. Each check says what it found;
any failure makes the exit status 1. The Qt check lives in ui/ (only ui/ imports Qt) and ``staffpulse.selftest``
puts it last: a missing platform plugin aborts the process inside Qt, and by then every other line of the
report is already out.
"""

from __future__ import annotations

import dataclasses
import importlib
import sys
from collections.abc import Callable
from typing import TextIO

from agent.errors import IdleUnavailable
from agent.idle import select_backend
from sync.credentials import CredentialStore

#: What each backend asks of the OS, named in the report so IT can tell which native path was checked: pynput's
#: backend module by its last part, the idle backend by its class.
INPUT_APIS = {"_win32": "low-level hooks WH_KEYBOARD_LL/WH_MOUSE_LL", "_darwin": "Quartz event taps",
              "_xorg": "XRecord"}
IDLE_APIS = {"WindowsIdle": "GetLastInputInfo", "MacIdle": "CGEventSourceSecondsSinceLastEventType",
             "X11Idle": "XScreenSaverQueryInfo"}


@dataclasses.dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def input_backend() -> Check:
    """pynput picks its backend at import and raises when it cannot (no X display, a backend not frozen)."""
    name = "input backend"
    try:
        keyboard, mouse = importlib.import_module("pynput.keyboard"), importlib.import_module("pynput.mouse")
    except Exception as problem:  # pynput raises ImportError, and others from the native layer
        return Check(name, False, f"{type(problem).__name__}: {problem}")
    modules = [keyboard.Listener.__module__, mouse.Listener.__module__]
    api = INPUT_APIS.get(modules[0].rsplit(".", 1)[-1], "unknown API")
    return Check(name, True, f"{api} ({', '.join(modules)})")


def idle_backend(system: str = sys.platform) -> Check:
    name = "idle backend"
    try:
        backend = select_backend(system)()
        seconds = backend.idle_seconds()
    except IdleUnavailable as problem:
        return Check(name, False, str(problem))
    kind = type(backend).__name__
    return Check(name, seconds >= 0, f"{IDLE_APIS.get(kind, 'unknown API')} ({kind}) answers: idle {seconds:.1f} s")


def keyring_backend() -> Check:
    import keyring  # in the agent on Linux keyring runs in a child process (sync.credentials): loaded only here

    backend = keyring.get_keyring()
    chained = getattr(backend, "backends", None)
    names = [type(b).__name__ for b in chained] if chained is not None else [type(backend).__name__]
    found = f"{type(backend).__module__}.{type(backend).__name__}" + (f" ({', '.join(names)})" if chained else "")
    return Check("keyring backend", CredentialStore(backend=backend).uses_keyring, found)


def websocket_transport() -> Check:
    """engine.io falls back to long-polling, silently, when websocket-client cannot be imported."""
    name = "websocket transport"
    client = importlib.import_module("engineio.client")
    module = getattr(client, "websocket", None)
    if module is None:
        return Check(name, False, "websocket-client is missing: engine.io would only long-poll")
    return Check(name, True, f"websocket-client {getattr(module, '__version__', '?')}")


#: The checks that need no Qt, in the order they run; ``staffpulse.selftest`` adds Qt's after them.
CHECKS: tuple[Callable[[], Check], ...] = (input_backend, idle_backend, keyring_backend, websocket_transport)


def run(out: TextIO, checks: tuple[Callable[[], Check], ...]) -> int:
    """Write one line per check to ``out`` as it finishes; 0 when every check passed, else 1."""
    failed = 0
    for check in checks:
        try:
            result = check()
        except Exception as problem:  # a check that breaks is a failed check, and the report goes on
            name = getattr(check, "__name__", "check").replace("_", " ")
            result = Check(name, False, f"{type(problem).__name__}: {problem}")
        failed += not result.ok
        out.write(f"{'ok  ' if result.ok else 'FAIL'} {result.name}: {result.detail}\n")
        out.flush()
    out.write(f"self-test {'passed' if not failed else f'failed: {failed} of {len(checks)} checks'}\n")
    out.flush()
    return 1 if failed else 0
