"""``server.rooms.IndexedRooms`` keeps exactly python-socketio's room bookkeeping.

The same random sequence of connects, joins, leaves, closed rooms, acks and disconnects runs on python-socketio's
own ``AsyncManager`` and on ours; after every step both hold the same rooms, callbacks and pending lists, and
ours holds no index entry for a socket that is gone. If the library changes what a disconnect cleans up, or our
index drifts from its rooms, this fails.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from typing import Any

import socketio

from server.rooms import IndexedRooms

NAMESPACES = ("/", "/other")
ROOMS = ("team:1", "team:2", "managers:1", "user:7")


def manager_on_a_server(manager: Any) -> Any:
    """A manager attached to a server whose socket ids are 0, 1, 2…, so two servers hand out the same ids."""
    server = socketio.AsyncServer(async_mode="asgi", client_manager=manager)
    counter = itertools.count()
    server.eio.generate_id = lambda: f"sid{next(counter)}"
    return server.manager


def state(manager: Any) -> dict[str, Any]:
    return {
        "rooms": {ns: {room: dict(members) for room, members in rooms.items()} for ns, rooms in manager.rooms.items()},
        "callbacks": {sid: sorted(k for k in acks if k != 0) for sid, acks in manager.callbacks.items()},
        "pending_connect": manager.pending_connect,
        "pending_disconnect": manager.pending_disconnect,
    }


async def step(manager: Any, rng: random.Random, known: list[tuple[str, str]]) -> None:
    """One random operation; ``rng`` is seeded alike for both managers, so they take the same steps."""
    choice = rng.random()
    if choice < 0.25 or not known:
        namespace = rng.choice(NAMESPACES)
        sid = await manager.pre_connect(f"eio{rng.randrange(10**6)}", namespace)
        if rng.random() < 0.8:
            await manager.connect(sid, namespace)
        known.append((namespace, sid))
        return
    namespace, sid = rng.choice(known)
    if choice < 0.5:
        await manager.enter_room(sid, namespace, rng.choice(ROOMS))
    elif choice < 0.6:
        await manager.leave_room(sid, namespace, rng.choice(ROOMS))
    elif choice < 0.65:
        await manager.close_room(rng.choice(ROOMS), namespace)
    elif choice < 0.75:
        manager._generate_ack_id(sid, print)
    elif choice < 0.8:
        manager.pre_disconnect(sid, namespace)
    else:
        await manager.disconnect(sid, namespace)
        known.remove((namespace, sid))


def test_bookkeeping_matches_python_socketio_step_by_step() -> None:
    async def main() -> None:
        stock, ours = manager_on_a_server(socketio.AsyncManager()), manager_on_a_server(IndexedRooms())
        for seed in range(20):
            stock_rng, our_rng = random.Random(seed), random.Random(seed)
            stock_known: list[tuple[str, str]] = []
            our_known: list[tuple[str, str]] = []
            for number in range(300):
                await step(stock, stock_rng, stock_known)
                await step(ours, our_rng, our_known)
                assert state(ours) == state(stock), f"seed {seed}, step {number}"
            for namespace, sid in our_known:  # everyone leaves: nothing of them may stay behind
                await stock.disconnect(sid, namespace)
                await ours.disconnect(sid, namespace)
            assert state(ours) == state(stock)
            assert ours.rooms == {} and ours._joined == {}

    asyncio.run(main())
