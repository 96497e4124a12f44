"""Does server memory come back after sockets leave? N cycles of M connects then M disconnects, per client kind.

Issue 13, item 16: before the socket guard, 25 cycles of 2,000 connects and disconnects with the official
socket.io JavaScript client (which offers permessage-deflate) left the server at 838 MB from a 112 MB baseline.
This replays it against a fresh ``staffpulse-server serve --health-details`` on SQLite per client kind, with the
raw-websocket agents of ``bench.socket_memory`` (no deflate offer, as the agent's python-socketio; or a
deflate offer, as browsers and the JS client). Each cycle opens ``--sockets`` sockets (engine.io OPEN, the
socket.io CONNECT with a token; at most ``--concurrency`` handshakes at once), then each leaves as the official
clients do (socket.io DISCONNECT, then the websocket close; ``--abrupt``: the close alone). A cycle ends once
``/healthz`` counts no socket, and the server's RSS is printed then: a leak grows it every cycle, a plateau
does not. The last figure is RSS after a settle with nothing connected, longer than the ping interval: engine.io
keeps a closed socket (its queue, its tasks) until the socket's ping task next wakes, up to 20 s later.

RSS may stay above the baseline without any leak: an allocator keeps freed memory for reuse rather than give
it back. ``--trim`` tells the two apart at the end: it asks the settled server's glibc to return what it holds
free (``malloc_trim(0)``, called through gdb) and prints RSS once more. The server inherits the environment, so
``MALLOC_ARENA_MAX=2`` (fewer glibc arenas) or ``PYTHONMALLOC=malloc`` (no pymalloc: Python's small objects
from glibc too, which a trim can then reach) try the allocators' part.

    python -m bench.socket_churn --cycles 25 --sockets 2000
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence

import aiohttp
from websockets.asyncio.client import ClientConnection

from bench.load.roster import Agent, seed_database
from bench.load.targets import database, ours, raise_fd_limit, workdir
from bench.socket_memory import SETTLE_S, answer_pings, open_socket, rss_kib

#: How long the server may take to count every socket of a cycle gone.
DRAIN_TIMEOUT_S = 120.0

KINDS = ((False, "no deflate offer (agent)"), (True, "deflate offer (browser, JS)"))


@dataclasses.dataclass
class Churn:
    """One client kind's run: RSS (KiB) at baseline, after each cycle, and after the final settle."""

    baseline: int = 0
    cycles: list[int] = dataclasses.field(default_factory=list)
    settled: int = 0
    trimmed: int | None = None
    negotiated: bool = False
    seconds: float = 0.0


async def socket_count(http: aiohttp.ClientSession, base_url: str) -> int:
    async with http.get(base_url + "/healthz") as response:
        count: int = (await response.json())["sockets"]
        return count


async def drained(http: aiohttp.ClientSession, base_url: str) -> None:
    """Wait until the server holds no socket (it notes a disconnect after the client's close returns)."""
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while (count := await socket_count(http, base_url)) > 0:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{count} sockets still counted {DRAIN_TIMEOUT_S:g} s after every client left")
        await asyncio.sleep(0.2)


async def cycle(url: str, agents: Sequence[Agent], deflate: bool, concurrency: int, abrupt: bool) -> bool:
    """Connect every agent, then disconnect every one; whether the server accepted a deflate offer."""
    gate = asyncio.Semaphore(concurrency)

    async def opened(agent: Agent) -> tuple[ClientConnection, bool]:
        async with gate:
            return await open_socket(url, agent, deflate)

    sockets = await asyncio.gather(*(opened(agent) for agent in agents))
    readers = [asyncio.create_task(answer_pings(ws)) for ws, _ in sockets]
    for ws, _ in sockets:
        if not abrupt:
            await ws.send("41")
    await asyncio.gather(*(ws.close() for ws, _ in sockets))
    for reader in readers:
        reader.cancel()
    return any(accepted for _, accepted in sockets)


async def churn(base_url: str, pid: int, agents: Sequence[Agent], deflate: bool, cycles: int, concurrency: int,
                abrupt: bool, settle_s: float, trim: bool, show: bool) -> Churn:
    url = base_url.replace("http", "ws", 1) + "/api/socket/?EIO=4&transport=websocket"
    result = Churn()
    started = time.monotonic()
    async with aiohttp.ClientSession() as http:
        await asyncio.sleep(SETTLE_S)
        result.baseline = rss_kib(pid)
        for n in range(cycles):
            result.negotiated |= await cycle(url, agents, deflate, concurrency, abrupt)
            await drained(http, base_url)
            result.cycles.append(rss_kib(pid))
            if show:
                print(f"  cycle {n + 1:>3}: {mib(result.cycles[-1]):>7.1f} MiB", flush=True)
        await asyncio.sleep(settle_s)
        result.settled = rss_kib(pid)
        if trim:
            malloc_trim(pid)
            result.trimmed = rss_kib(pid)
    result.seconds = time.monotonic() - started
    return result


def malloc_trim(pid: int) -> None:
    """Have process ``pid`` call glibc's ``malloc_trim(0)``: free arena memory goes back to the system."""
    gdb = shutil.which("gdb")
    if gdb is None:
        raise RuntimeError("--trim needs gdb")
    subprocess.run([gdb, "-p", str(pid), "-batch", "-ex", "call (int) malloc_trim(0)"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)


def mib(kib: int) -> float:
    return kib / 1024


def summary(label: str, sockets: int, run: Churn) -> Iterator[str]:
    """The run's line: RSS at baseline, after the first cycle, after the last, after the settle, and the growth
    per cycle over the second half of the run (where a plateau shows as ~0)."""
    half = run.cycles[len(run.cycles) // 2:]
    trimmed = "-" if run.trimmed is None else f"{mib(run.trimmed):.1f}"
    slope = (half[-1] - half[0]) / (len(half) - 1) if len(half) > 1 else 0.0
    yield (f"{label:<30} {len(run.cycles):>3} x {sockets:<6} {mib(run.baseline):>8.1f} {mib(run.cycles[0]):>8.1f}"
           f" {mib(run.cycles[-1]):>8.1f} {mib(run.settled):>8.1f} {trimmed:>8} {slope:>+12.1f}"
           f"  {'yes' if run.negotiated else 'no':<8} {run.seconds:>5.0f} s")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.socket_churn", description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=25, help="connect/disconnect cycles (default 25)")
    parser.add_argument("--sockets", type=int, default=2000, help="sockets per cycle (default 2000)")
    parser.add_argument("--concurrency", type=int, default=200, help="handshakes at once (default 200)")
    parser.add_argument("--abrupt", action="store_true", help="close the websocket without a socket.io DISCONNECT")
    parser.add_argument("--settle", type=float, default=25.0, metavar="S",
                        help="wait before the last RSS (default 25: past the ping interval, no closed socket held)")
    parser.add_argument("--trim", action="store_true", help="at the end, malloc_trim(0) the server (needs gdb)")
    parser.add_argument("--kind", choices=("agent", "deflate", "both"), default="both", help="client kinds to run")
    parser.add_argument("--quiet", action="store_true", help="no line per cycle, only the summary")
    args = parser.parse_args(argv)
    raise_fd_limit()
    kinds = [k for k in KINDS if args.kind == "both" or k[0] == (args.kind == "deflate")]
    lines: list[str] = []
    for deflate, label in kinds:
        print(label, flush=True)
        with workdir() as base, database("sqlite", base) as url:
            agents = asyncio.run(seed_database(url, args.sockets))
            with ours(url, base, "--health-details") as server:
                run = asyncio.run(churn(server.url, server.pid, agents, deflate, args.cycles, args.concurrency,
                                        args.abrupt, args.settle, args.trim, not args.quiet))
        lines.extend(summary(label, args.sockets, run))
    print(f"{'client':<30} {'cycles':<12} {'baseline':>8} {'1st':>8} {'last':>8} {'settled':>8} {'trimmed':>8}"
          f" {'KiB/cycle':>12}  deflate  time   (RSS in MiB; KiB/cycle over the second half)")
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
