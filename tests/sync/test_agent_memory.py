"""The agent's memory (issue 15, "Memory"): what it loads at start, and what it holds once settled.

bench/memory.py prints the figures against the goals; these keep the reductions from coming back. The ceiling
has a margin over what the agent holds now (docs/agent.md, "Memory"), and fails with a reverted reduction.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

from bench.memory import measure
from support.servers import ServerProcess
from support.team import Team
from sync.socketio_client import CLIENT_MODULES

ROOT = Path(__file__).resolve().parents[2]
#: python-socketio's and python-engineio's optional server-side libraries (queues, servers, asyncio HTTP).
SERVER_SIDE = ("redis", "valkey", "kafka", "kombu", "aio_pika", "zmq", "tornado", "aiohttp")
#: Settled headless RSS in MiB: 51 now (docs/agent.md, "Memory"); 62 with keyring back in the agent's process,
#: 82-89 with python-socketio's whole package and its server side loaded.
HEADLESS_CEILING_MB = 55.0


def test_the_agent_loads_only_python_socketios_threaded_client() -> None:
    """Neither the packages' other modules (servers, managers, asyncio clients) nor what they import: asyncio,
    concurrent.futures and the server-side libraries, installed here (the development venv holds the server's)."""
    installed = [name for name in SERVER_SIDE if importlib.util.find_spec(name) is not None]
    assert {"redis", "aiohttp"} <= set(installed), "this test needs them installed to prove anything"
    code = ("import json, sys\nimport staffpulse.cli\nfrom sync.socketio_client import socketio\n"
            "socketio.Client()\nprint(json.dumps(sorted(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stdout))
    assert {"sync.live", "requests", "websocket"} <= loaded
    assert sorted({name.partition(".")[0] for name in loaded} & {*SERVER_SIDE, "asyncio", "concurrent"}) == []
    # the packages' __init__ never ran: it would have left them in sys.modules, which the loader leaves clean
    assert {name for name in loaded if name.partition(".")[0] in CLIENT_MODULES} == set()


def test_the_input_counter_loads_only_the_x_extensions_pynput_uses(x_display: str) -> None:
    """python-xlib would import a module for every extension Xvfb offers (composite, damage, randr, xinput, …)."""
    code = ("import json, sys, time\nfrom agent.input_counter import InputCounter\n"
            "assert InputCounter(time.monotonic).start()\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.startswith('Xlib.ext.'))))")
    env = {k: v for k, v in os.environ.items() if k not in ("WAYLAND_DISPLAY", "XDG_SESSION_TYPE")}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env=env | {"DISPLAY": x_display})
    assert done.returncode == 0, done.stderr
    # ge (generic events): python-xlib's protocol module imports it itself
    assert json.loads(done.stdout) == ["Xlib.ext.ge", "Xlib.ext.record", "Xlib.ext.xtest"]


def test_the_settled_headless_agent_stays_under_its_memory_ceiling(server: ServerProcess, team: Team,
                                                                   tmp_path: Path) -> None:
    """As bench/memory.py runs it: enrolled, its token in a real Secret Service, counting input on Xvfb, live,
    one upload done, teammates' events arriving."""
    found = measure("headless", server, team, tmp_path / "agent", settle_s=3)
    assert found.rss_mb <= HEADLESS_CEILING_MB, found
