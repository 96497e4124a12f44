"""The phases of one measurement, driven from here over pipes to the client processes (``swarm``).

Connect ramp → steady state (RSS per socket) → presence storms (one member of every team PUTs a new state,
all teams at once; latency = PUT sent → ``presence`` received, at each teammate) → upload waves (one 5-slot
batch per agent) → reconnect storm (stop the server, start it on the same port, time until every agent is
back). Each phase reads only what it caused, so the figures of one do not leak into the next.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import multiprocessing
import os
import statistics
import time
from collections import defaultdict
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import Any, Protocol

import aiohttp
import psutil

from bench.load import swarm
from bench.load.roster import Agent


class Restartable(Protocol):
    """A measured server: ``stop`` then ``start`` brings it back on the same address (the reconnect storm)."""

    @property
    def url(self) -> str: ...

    @property
    def pid(self) -> int: ...

    def stop(self) -> None: ...

    def start(self) -> Any: ...


@dataclasses.dataclass(frozen=True, kw_only=True)
class Options:
    procs: int = 2
    ramp_per_s: float = 500.0
    steady_s: float = 5.0
    storm_rounds: int = 5
    storm_gap_s: float = 1.0
    upload_waves: int = 2
    upload_concurrency: int = 32
    reconnect: bool = True


@dataclasses.dataclass(kw_only=True)
class Result:
    label: str
    agents: int
    load: str = ""
    held: int = 0
    ramp_s: float = 0.0
    connect_ms: list[float] = dataclasses.field(default_factory=list)
    fanout_ms: list[float] = dataclasses.field(default_factory=list)
    spread_ms: list[float] = dataclasses.field(default_factory=list)
    put_ms: list[float] = dataclasses.field(default_factory=list)
    missed: int = 0
    batches: int = 0
    batches_per_s: float = 0.0
    upload_ms: list[float] = dataclasses.field(default_factory=list)
    rss_before: int = 0
    rss_idle: int = 0
    reconnect_s: float | None = None
    outage_s: float | None = None
    errors: dict[str, int] = dataclasses.field(default_factory=dict)

    @property
    def rss_per_socket(self) -> float:
        return (self.rss_idle - self.rss_before) / self.held if self.held else 0.0


def percentile(values: Sequence[float], pct: int) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


class Crowd:
    """The client processes, each holding a share of the agents (round robin, so every team spans them)."""

    def __init__(self, url: str, agents: Sequence[Agent], procs: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipes: list[Connection] = []
        self.procs: list[Any] = []
        for n in range(procs):
            ours, theirs = context.Pipe()
            proc = context.Process(target=swarm.main, args=(theirs, url, list(agents[n::procs])), daemon=True)
            proc.start()
            theirs.close()
            self.pipes.append(ours)
            self.procs.append(proc)

    async def ask(self, *command: Any) -> list[Any]:
        loop = asyncio.get_running_loop()
        for pipe in self.pipes:
            pipe.send(command)
        return list(await asyncio.gather(*(loop.run_in_executor(None, pipe.recv) for pipe in self.pipes)))

    async def close(self) -> None:
        await self.ask("close")
        for proc in self.procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.kill()


def _load() -> str:
    one, five, _fifteen = os.getloadavg()
    return f"{one:.2f}/{five:.2f}"


async def _storms(result: Result, crowd: Crowd, http: aiohttp.ClientSession, url: str, agents: Sequence[Agent],
                  options: Options) -> None:
    teams: dict[int, list[Agent]] = defaultdict(list)
    for agent in agents:
        teams[agent.team_id].append(agent)
    senders = [members[1] for members in teams.values() if len(members) > 1]
    await crowd.ask("receipts")  # forget the presence events of the ramp
    sent: list[tuple[str, float]] = []

    async def put(agent: Agent, state: str, seq: int) -> None:
        began = time.monotonic()
        status = await swarm.put_presence(http, url, agent, state, seq)
        if status != 200:
            result.errors[f"presence: {status}"] = result.errors.get(f"presence: {status}", 0) + 1
        result.put_ms.append((time.monotonic() - began) * 1000)

    for round_ in range(options.storm_rounds):
        state = "break" if round_ % 2 == 0 else "active"
        sent.append((state, time.monotonic()))
        await asyncio.gather(*(put(a, state, round_ + 1) for a in senders))
        await asyncio.sleep(options.storm_gap_s)
    sent.append(("", time.monotonic()))
    receipts = [r for share in await crowd.ask("receipts") for r in share]
    first: dict[tuple[int, int, int], float] = {}  # (round, sender, receiver) → earliest receipt
    for user_id, state, at, receiver in receipts:
        for round_, ((expected, began), (_next, ended)) in enumerate(itertools.pairwise(sent)):
            if state == expected and began <= at < ended:
                key = (round_, user_id, receiver)
                first[key] = min(first.get(key, at), at)
    for round_, (_state, began) in enumerate(sent[:-1]):
        for sender in senders:
            heard = [first[(round_, sender.user_id, m.index)] for m in teams[sender.team_id]
                     if m is not sender and (round_, sender.user_id, m.index) in first]
            result.missed += len(teams[sender.team_id]) - 1 - len(heard)
            result.fanout_ms += [(at - began) * 1000 for at in heard]
            if heard:
                result.spread_ms.append((max(heard) - min(heard)) * 1000)


async def measure(label: str, target: Restartable, agents: Sequence[Agent], options: Options) -> Result:
    result = Result(label=label, agents=len(agents), load=_load())
    server = psutil.Process(target.pid)
    crowd = Crowd(target.url, agents, options.procs)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        try:
            async with http.get(target.url + "/healthz") as answer:  # warm, then the baseline
                await answer.read()
            result.rss_before = server.memory_info().rss
            began = time.monotonic()
            ramp = await crowd.ask("connect", options.ramp_per_s / options.procs)
            await crowd.ask("all_up", 30.0)
            result.ramp_s = time.monotonic() - began
            result.connect_ms = [s * 1000 for share in ramp for s in share["connect_s"]]
            await asyncio.sleep(options.steady_s)
            result.held = sum(await crowd.ask("connected"))
            result.rss_idle = server.memory_info().rss

            await _storms(result, crowd, http, target.url, agents, options)

            total_s = 0.0
            for wave in range(options.upload_waves):
                shares = await crowd.ask("upload", wave, options.upload_concurrency)
                result.batches += sum(s["ok"] for s in shares)
                total_s += max(s["ended"] for s in shares) - min(s["began"] for s in shares)
                result.upload_ms += [x * 1000 for s in shares for x in s["latency_s"]]
            result.batches_per_s = result.batches / total_s if total_s else 0.0

            for share in await crowd.ask("errors"):
                for kind, count in share.items():
                    result.errors[kind] = result.errors.get(kind, 0) + count
            if options.reconnect:
                await crowd.ask("errors", True)  # refusals while the server is down are expected, not errors
                stopped = time.monotonic()
                target.stop()
                await crowd.ask("all_down", 15.0)
                target.start()
                healthy = time.monotonic()
                backs = await crowd.ask("all_up", 60.0)
                if all(b is not None for b in backs):
                    result.reconnect_s = max(backs) - healthy
                    result.outage_s = max(backs) - stopped
                else:
                    result.errors["reconnect: not all back in 60 s"] = 1
        finally:
            await crowd.close()
    return result
