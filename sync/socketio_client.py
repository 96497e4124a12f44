"""python-socketio's threaded client, loaded without the rest of python-socketio and python-engineio.

``import socketio`` runs socketio/__init__.py, which imports every manager and server in the package, the
asyncio clients and servers, and python-engineio's package, which does the same; those import asyncio,
concurrent.futures and each optional library they find: redis, valkey, kafka, kombu, aio_pika, zmq, tornado,
aiohttp. The agent uses only the threaded ``socketio.Client`` (requests and websocket-client). Measured by
bench/memory.py (docs/agent.md, "Memory"), the packages' ``__init__`` cost the headless agent about 20 MiB RSS
of its 89. So the two packages are registered in ``sys.modules`` as bare package modules (their ``__path__``,
not their ``__init__``) while the client's own modules load (``CLIENT_MODULES``, the closure of their
module-level imports; tests/sync/test_socketio_client.py fails when an upgrade changes it), and the package
attributes those modules use are set. Then the bare packages and their modules leave ``sys.modules`` again, so
code that imports ``socketio`` for itself (the server, the tests' clients) gets the whole package, loaded as
usual, beside the agent's client (a process doing both holds two copies of the client modules). Where the whole
package was loaded first it is simply used.

Import it from here (``from sync.socketio_client import Client, socketio``), never directly.
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
import types
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

#: The modules ``socketio.Client`` runs on, by package: the closure of their module-level imports.
CLIENT_MODULES = {
    "engineio": ("base_client", "client", "exceptions", "json", "packet", "payload"),
    "socketio": ("base_client", "base_namespace", "client", "exceptions", "packet"),
}


@contextlib.contextmanager
def _bare_packages(names: tuple[str, ...]) -> Iterator[None]:
    """Inside the block, each of ``names`` not loaded yet imports as its package without its ``__init__``; after
    it, that package and the modules the block loaded from it are out of ``sys.modules`` again (their module
    objects live on where they are referenced)."""
    bare = [name for name in names if name not in sys.modules]
    for name in bare:
        spec = importlib.util.find_spec(name)  # finds the package; runs nothing
        assert spec is not None and spec.submodule_search_locations is not None, name
        sys.modules[name] = importlib.util.module_from_spec(spec)
    try:
        yield
    finally:
        for name in [n for n in sys.modules if n.partition(".")[0] in bare]:
            del sys.modules[name]


def _load() -> types.ModuleType:
    """The ``socketio`` package with its client modules loaded, engineio's first (socketio's read it)."""
    with _bare_packages(tuple(CLIENT_MODULES)):
        for package, modules in CLIENT_MODULES.items():
            for module in modules:
                importlib.import_module(f"{package}.{module}")
            loaded: Any = sys.modules[package]  # python-socketio has no types
            loaded.Client = loaded.client.Client  # as the package's __init__ sets it; socketio's read engineio's
        return sys.modules["socketio"]


socketio = _load()
if TYPE_CHECKING:  # mypy does not run the loader; python-socketio has no types, so this is Any
    from socketio import Client as Client
else:
    Client = socketio.Client
