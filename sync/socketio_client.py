"""python-socketio's client, loaded without the server-side integrations its package pulls in.

``import socketio`` runs socketio/__init__.py, which imports every manager and server in the package, and
python-engineio's, and each of those tries its optional library: redis, valkey, kafka, kombu, aio_pika, zmq,
tornado, aiohttp. Where they are installed (beside the server's extras: a manager's machine running both, the
development venv) they all load into the agent, which uses only the threaded ``socketio.Client`` (requests and
websocket-client): 30 MiB of the headless agent's 89 MiB RSS, measured by bench/memory.py (docs/agent.md,
"Memory"). So while the package loads, those libraries read as not installed: a ``None`` in ``sys.modules``
makes their import raise ImportError, which python-socketio and python-engineio catch as they do when the
library is missing. Libraries some other code loaded already (the tests' own socket.io clients, in-process
servers) are left as they are, and once loaded python-socketio stays as it was loaded, for the whole process.
Import it from here (``from sync.socketio_client import socketio``), never directly. The placeholders
are removed afterwards, so the process can still import those libraries for itself.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

#: python-socketio's and python-engineio's optional server-side libraries (queues, servers, asyncio HTTP).
SERVER_SIDE = ("redis", "valkey", "kafka", "kombu", "aio_pika", "zmq", "tornado", "aiohttp")


@contextlib.contextmanager
def _absent(names: tuple[str, ...]) -> Iterator[None]:
    """``names`` not loaded yet read as not installed inside the block."""
    hidden = [name for name in names if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # an import of it raises ImportError
    try:
        yield
    finally:
        for name in hidden:
            if sys.modules.get(name) is None:
                del sys.modules[name]


with _absent(SERVER_SIDE):
    import socketio as socketio  # re-exported: ``from sync.socketio_client import socketio``
