"""One client process of the load tool: a share of the agents, each a socket.io connection over a websocket
(``bench.load.wire``: the wire protocol spoken directly, so 5,000 of them cost the measuring side little),
plus their HTTP uploads. The coordinator (``run``) sends commands over a pipe.

Every client reconnects the way the agent does (``sync.live``: its own loop, ``sync.backoff.Reconnect`` —
soon after a drop, then full jitter from 1 s — a fresh connection per attempt), so the reconnect storm
measures what real agents would see. Receipts of ``presence`` events are stamped with ``time.monotonic()``,
one clock for every process on the machine, so the coordinator can subtract the moment it sent the update.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from typing import Any

import aiohttp
import uvloop

from bench.load import uploads, wire
from bench.load.roster import Agent
from bench.load.targets import raise_fd_limit
from sync.backoff import Reconnect

SOCKET_PATH = "/api/socket"
CONNECT_WAIT_S = 10.0
SLOTS_PER_BATCH = 5

#: (sender user id, state, receipt moment, receiver agent index)
Receipt = tuple[int, str, float, int]


@dataclasses.dataclass
class Tally:
    connected: int = 0
    connect_s: list[float] = dataclasses.field(default_factory=list)
    errors: dict[str, int] = dataclasses.field(default_factory=dict)

    def error(self, kind: str, count: int = 1) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + count


def minutes(wave: int) -> list[datetime]:
    """The five closed minutes of upload wave ``wave``: an hour back and further, distinct for every wave."""
    last = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1, minutes=SLOTS_PER_BATCH * wave)
    return [last - timedelta(minutes=i) for i in range(SLOTS_PER_BATCH)]


def batch_body(starts: Sequence[datetime]) -> dict[str, Any]:
    """A new batch of ``starts``, as the agent would upload it."""
    return {"batch_id": str(uuid.uuid4()), "slots": [
        {"start": s.isoformat().replace("+00:00", "Z"), "tracked_s": 60, "active_s": 50, "idle_s": 10,
         "break_s": 0, "input_s": 45, "keys": random.randrange(200), "clicks": 20, "scrolls": 5, "mouse_px": 4000}
        for s in starts]}


async def post_batch(http: aiohttp.ClientSession, url: str, agent: Agent, starts: Sequence[datetime]) -> int | str:
    """Upload one batch of ``starts`` as the agent would; the HTTP status, or the transport error's name."""
    try:
        async with http.post(url + "/api/v1/activity", json=batch_body(starts),
                             headers={"Authorization": f"Bearer {agent.token}"}) as answer:
            await answer.read()
            return answer.status
    except aiohttp.ClientError as exc:
        return type(exc).__name__


async def put_presence(http: aiohttp.ClientSession, url: str, agent: Agent, state: str, seq: int) -> int | str:
    """Report a presence state as the agent would; the HTTP status, or the transport error's name."""
    try:
        async with http.put(url + "/api/v1/presence", headers={"Authorization": f"Bearer {agent.token}"},
                            json={"state": state, "since": datetime.now(UTC).isoformat(), "seq": seq}) as answer:
            await answer.read()
            return answer.status
    except aiohttp.ClientError as exc:
        return type(exc).__name__


class Link:
    """One agent's socket, kept up like the agent keeps it."""

    def __init__(self, agent: Agent, swarm: Swarm) -> None:
        self.agent, self.swarm = agent, swarm
        self.up = asyncio.Event()
        self.tried = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.socket: wire.WireSocket | None = None

    async def run(self) -> None:
        retry, first = Reconnect(base=1.0, cap=60.0), True
        while True:
            started = time.monotonic()
            try:
                self.socket = await asyncio.wait_for(wire.WireSocket.connect(
                    self.swarm.http, self.swarm.url, SOCKET_PATH, {"token": self.agent.token}), CONNECT_WAIT_S)
            except Exception as exc:  # refused, timed out, server down: all retried like the agent does
                self.swarm.tally.error(f"connect: {(str(exc) or type(exc).__name__)[:60]}")
                self.tried.set()
                first = False
                await asyncio.sleep(retry.delay())
                continue
            if first:
                self.swarm.tally.connect_s.append(time.monotonic() - started)
                first = False
            self.tried.set()
            self.swarm.tally.connected += 1
            self.up.set()
            self.swarm.changed.set()
            try:
                await self.socket.serve(self._event)
            except Exception as exc:  # a packet it cannot read: counted, and the socket is opened again
                self.swarm.tally.error(f"socket: {str(exc)[:60]}")
            self.up.clear()
            self.swarm.tally.connected -= 1
            self.swarm.changed.set()
            retry.dropped()
            await asyncio.sleep(retry.delay())

    def _event(self, name: str, data: Any) -> None:
        if name == "presence":
            self.swarm.receipts.append((int(data["user_id"]), str(data["state"]), time.monotonic(),
                                        self.agent.index))

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        if self.socket is not None:
            await self.socket.close()


class Swarm:
    def __init__(self, url: str, agents: Sequence[Agent]) -> None:
        self.url, self.agents = url, agents
        self.tally = Tally()
        self.receipts: list[Receipt] = []
        self.changed = asyncio.Event()
        self.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        self.links = [Link(a, self) for a in agents]

    async def connect(self, rate: float) -> dict[str, Any]:
        """Start every link, ``rate`` per second; answer once each has made its first attempt."""
        for link in self.links:
            link.task = asyncio.create_task(link.run())
            await asyncio.sleep(1 / rate)
        await asyncio.gather(*(link.tried.wait() for link in self.links))
        return {"connected": self.tally.connected, "connect_s": self.tally.connect_s}

    async def all_up(self, timeout: float) -> float | None:
        """The moment every link is connected (now, if they are), or None after ``timeout``."""
        deadline = time.monotonic() + timeout
        while self.tally.connected < len(self.links):
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), max(0.0, deadline - time.monotonic()))
            if time.monotonic() >= deadline:
                return None
        return time.monotonic()

    async def all_down(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.tally.connected and time.monotonic() < deadline:
            await asyncio.sleep(0.01)

    async def upload(self, wave: int, concurrency: int) -> dict[str, Any]:
        """One five-minute batch per agent, ``concurrency`` in flight; minutes distinct per wave."""
        requests = [uploads.post_request(self.url, "/api/v1/activity", agent.token, batch_body(minutes(wave)))
                    for agent in self.agents]
        began = time.monotonic()
        took, failed = await uploads.send_all(self.url, requests, concurrency)
        for kind, count in failed.items():
            self.tally.error(f"upload: {kind}", count)
        return {"began": began, "ended": time.monotonic(), "ok": len(took), "latency_s": took}

    async def close(self) -> None:
        await asyncio.gather(*(link.close() for link in self.links))
        await self.http.close()


async def _serve(conn: Connection, url: str, agents: Sequence[Agent]) -> None:
    swarm = Swarm(url, agents)
    loop = asyncio.get_running_loop()
    try:
        while True:
            command, *args = await loop.run_in_executor(None, conn.recv)
            if command == "connect":
                answer: Any = await swarm.connect(*args)
            elif command == "connected":
                answer = swarm.tally.connected
            elif command == "receipts":
                answer, swarm.receipts = swarm.receipts, []
            elif command == "all_up":
                answer = await swarm.all_up(*args)
            elif command == "all_down":
                await swarm.all_down(*args)
                answer = swarm.tally.connected
            elif command == "upload":
                answer = await swarm.upload(*args)
            elif command == "errors":  # ("errors", True) also forgets them
                answer = dict(swarm.tally.errors)
                if args:
                    swarm.tally.errors.clear()
            elif command == "close":
                break
            else:
                raise ValueError(f"unknown command {command!r}")
            conn.send(answer)
    finally:
        await swarm.close()
        conn.send("closed")


def main(conn: Connection, url: str, agents: Sequence[Agent]) -> None:
    """Entry point of one client process; raises its open-files limit for its sockets first."""
    raise_fd_limit()
    uvloop.run(_serve(conn, url, agents))
