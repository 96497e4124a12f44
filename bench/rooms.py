"""What a mass disconnect costs python-socketio's room bookkeeping, stock against ``server.rooms.IndexedRooms``.
Prints figures; not a test.

N sockets connect to one manager, each joining the rooms our server gives an agent (its user, its team and, for
one in 50, the managers' room), then all disconnect, as when a server stops or a network blip drops every
agent. Only the manager's own work is timed: no network, no event loop contention.

    .venv/bin/python bench/rooms.py                      # 1,000 / 3,000 / 5,000 / 10,000 sockets
    .venv/bin/python bench/rooms.py --sockets 500 2000
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import time
from typing import Any

import socketio

from server.rooms import IndexedRooms

TEAM = 50


async def disconnect_all(manager: Any, sockets: int) -> float:
    server = socketio.AsyncServer(async_mode="asgi", client_manager=manager)
    counter = itertools.count()
    server.eio.generate_id = lambda: f"sid{next(counter)}"
    sids = []
    for n in range(sockets):
        sid = await manager.pre_connect(f"eio{n}", "/")
        await manager.connect(sid, "/")
        for room in (f"user:{n}", f"team:{n // TEAM}", *([f"managers:{n // TEAM}"] if n % TEAM == 0 else [])):
            await manager.enter_room(sid, "/", room)
        sids.append(sid)
    started = time.perf_counter()
    for sid in sids:
        await manager.disconnect(sid, "/")
    elapsed = time.perf_counter() - started
    assert not manager.rooms, "every room is gone once everyone left"
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sockets", type=int, nargs="+", default=[1000, 3000, 5000, 10000])
    args = parser.parse_args()
    print(f"{'sockets':>8} {'stock (s)':>10} {'indexed (s)':>12} {'per socket stock/indexed (µs)':>31}")
    for sockets in args.sockets:
        stock = asyncio.run(disconnect_all(socketio.AsyncManager(), sockets))
        indexed = asyncio.run(disconnect_all(IndexedRooms(), sockets))
        each = f"{1e6 * stock / sockets:.1f} / {1e6 * indexed / sockets:.1f}"
        print(f"{sockets:>8} {stock:>10.3f} {indexed:>12.4f} {each:>31}")


if __name__ == "__main__":
    main()
