"""Server memory per idle socket, for a client that offers permessage-deflate (browsers, the official socket.io
JavaScript client) and one that does not (the agent's python-socketio).

Each kind runs against a fresh ``staffpulse-server serve`` on SQLite: ``--sockets`` agents connect over raw
websockets (engine.io OPEN, then the socket.io CONNECT with their token, pings answered), and the server's RSS
is read before and after. The server declines deflate (server/cli.py), so both figures should match; before
that, a deflate socket cost 130-150 KiB against 39 KiB (issue 13, item 16). docs/security.md quotes the output.

    python -m bench.socket_memory --sockets 1000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time
from collections.abc import Sequence
from pathlib import Path

from websockets.asyncio.client import ClientConnection, connect

from bench.load.roster import Agent, seed_database
from bench.load.targets import database, ours, raise_fd_limit, workdir

SETTLE_S = 3.0


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


async def answer_pings(ws: ClientConnection) -> None:
    with contextlib.suppress(Exception):
        async for frame in ws:
            if frame == "2":
                await ws.send("3")


async def open_socket(url: str, agent: Agent, deflate: bool) -> tuple[ClientConnection, bool]:
    """A connected socket, and whether the server accepted the deflate offer."""
    ws = await connect(url, compression="deflate" if deflate else None, ping_interval=None, open_timeout=30)
    assert str(await ws.recv()).startswith("0")
    await ws.send("40" + json.dumps({"token": agent.token}))
    answer = str(await ws.recv())
    assert answer.startswith("40{"), answer
    assert ws.response is not None
    return ws, ws.response.headers.get("Sec-WebSocket-Extensions") is not None


async def measure(base_url: str, pid: int, agents: Sequence[Agent], deflate: bool) -> tuple[float, bool]:
    url = base_url.replace("http", "ws", 1) + "/api/socket/?EIO=4&transport=websocket"
    await asyncio.sleep(SETTLE_S)
    before = rss_kib(pid)
    opened = await asyncio.gather(*(open_socket(url, agent, deflate) for agent in agents))
    readers = [asyncio.create_task(answer_pings(ws)) for ws, _ in opened]
    await asyncio.sleep(SETTLE_S)
    after = rss_kib(pid)
    for ws, _ in opened:
        await ws.close()
    for reader in readers:
        reader.cancel()
    return (after - before) / len(agents), any(accepted for _, accepted in opened)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.socket_memory", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sockets", type=int, default=1000, help="sockets per client kind (default 1000)")
    args = parser.parse_args(argv)
    raise_fd_limit()
    print(f"{'client':<32} {'sockets':>8} {'KiB/socket':>11}  deflate negotiated")
    for deflate, label in ((False, "no deflate offer (agent)"), (True, "deflate offer (browser, JS)")):
        with workdir() as base, database("sqlite", base) as url:
            agents = asyncio.run(seed_database(url, args.sockets))
            with ours(url, base) as server:
                started = time.monotonic()
                per_socket, negotiated = asyncio.run(measure(server.url, server.pid, agents, deflate))
        print(f"{label:<32} {args.sockets:>8} {per_socket:>11.1f}  {'yes' if negotiated else 'no'}"
              f"  ({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
