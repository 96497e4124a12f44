"""Soak: a simulated team and one real headless agent against our server for 30 minutes; do they leak?

The team is the load tool's (``bench.load``) at a modest size: 200 agents with a socket each, a few of them
changing presence every couple of seconds and uploading a 5-slot batch now and then (on average one per agent
per 5 minutes, the agent's default sync interval). Beside them one real ``staffpulse --headless`` agent,
enrolled with a code, samples (without a display it counts no input, and says so), uploads and keeps its
socket. Server and agent RSS are sampled every 30 s; the least-squares slope in KiB/min is printed for each.
A flat line after warm-up is what a long-running process should show.

    .venv/bin/python bench/soak.py                          # 30 min, 200 agents, SQLite
    .venv/bin/python bench/soak.py --minutes 2 --agents 20  # quick check
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, get_args

import aiohttp
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script: bench.load, server and tests.support from the checkout

from bench.load import roster, swarm, targets  # noqa: E402
from bench.load.run import Crowd  # noqa: E402
from protocol.schema import ReportedState  # noqa: E402
from server import admin  # noqa: E402
from server.migrate import run_in_session  # noqa: E402

STATES = get_args(ReportedState)


def slope_kib_per_min(samples: list[tuple[float, int]]) -> float:
    """Least-squares slope of (minute, RSS bytes) in KiB per minute."""
    if len(samples) < 2:
        return float("nan")
    minutes, rss = zip(*samples, strict=True)
    return statistics.linear_regression(minutes, [r / 1024 for r in rss]).slope


async def _code_for_real_agent(url: str) -> str:
    async def seed(session: Any, now: datetime) -> str:
        name = f"soak-{int(time.time())}"
        await admin.create_team(session, name=name, now=now)
        await admin.create_user(session, team=name, login=f"agent@{name}.example", name="Soak Agent", now=now)
        issued = await admin.issue_code(session, login=f"agent@{name}.example", now=now)
        return str(issued["code"])

    code: str = await run_in_session(url, seed)
    return code


def start_real_agent(server_url: str, code: str, base: Path) -> subprocess.Popen[bytes]:
    """``staffpulse enroll`` then ``staffpulse --headless``, with its own data dir and its token in a plaintext
    file there (allowed explicitly, as scripts/demo does)."""
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"} | {
        "STAFFPULSE_DATA_DIR": str(base / "agent"), "STAFFPULSE_LOG_DIR": str(base / "agent" / "logs"),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring", "STAFFPULSE_ALLOW_PLAINTEXT_TOKEN": "1"}
    staffpulse = str(Path(sys.executable).with_name("staffpulse"))
    subprocess.run([staffpulse, "enroll", "--server", server_url, "--code", code, "--device-name", "soak-agent"],
                   env=env, check=True, capture_output=True)
    with (base / "agent.err").open("ab") as log:
        return subprocess.Popen([staffpulse, "--headless"], env=env, stdout=subprocess.DEVNULL, stderr=log)


async def soak(server_url: str, server_pid: int, agent_pid: int, agents: list[roster.Agent],
               args: argparse.Namespace) -> dict[str, list[tuple[float, int]]]:
    crowd = Crowd(server_url, agents, procs=1)
    samples: dict[str, list[tuple[float, int]]] = {"server": [], "agent": []}
    errors: Counter[str] = Counter()
    seq = Counter[int]()
    batches = Counter[int]()
    procs = {"server": psutil.Process(server_pid), "agent": psutil.Process(agent_pid)}
    async with aiohttp.ClientSession() as http:
        try:
            await crowd.ask("connect", 100.0)
            began = time.monotonic()
            end = began + args.minutes * 60
            next_sample = began
            tick = 0
            while time.monotonic() < end:
                if time.monotonic() >= next_sample:
                    minute = (time.monotonic() - began) / 60
                    line = [f"{minute:6.1f} min"]
                    for name, proc in procs.items():
                        rss = proc.memory_info().rss
                        samples[name].append((minute, rss))
                        line.append(f"{name} {rss / 2**20:7.1f} MiB")
                    async with http.get(server_url + "/healthz") as answer:  # the real agent's socket too
                        held = (await answer.json())["sockets"]
                    print("  ".join([*line, f"sockets {held}", f"errors {sum(errors.values())}"]), flush=True)
                    next_sample += args.sample
                # Every 2 s a few presence changes; every 10 s uploads from 1/30 of the team: one per agent per
                # 5 minutes on average.
                for agent in random.sample(agents, 5):
                    seq[agent.index] += 1
                    status = await swarm.put_presence(http, server_url, agent, random.choice(STATES),
                                                      seq[agent.index])
                    if status != 200:
                        errors[f"presence: {status}"] += 1
                if tick % 5 == 0:
                    for agent in random.sample(agents, max(1, len(agents) // 30)):
                        batches[agent.index] += 1
                        last = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=10)
                        starts = [last - timedelta(minutes=5 * batches[agent.index] + i) for i in range(5)]
                        status = await swarm.post_batch(http, server_url, agent, starts)
                        if status != 200:
                            errors[f"upload: {status}"] += 1
                tick += 1
                await asyncio.sleep(2.0)
            for share in await crowd.ask("errors"):
                errors.update(share)
        finally:
            await crowd.close()
    if errors:
        print("errors: " + ", ".join(f"{k} ×{v}" for k, v in sorted(errors.items())))
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="how long (default 30)")
    parser.add_argument("--agents", type=int, default=200, help="simulated agents (default 200)")
    parser.add_argument("--sample", type=float, default=30.0, metavar="S", help="RSS sample interval (default 30)")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args(argv)
    targets.raise_fd_limit()
    with targets.workdir() as base, targets.database(args.database, base) as url:
        agents = asyncio.run(roster.seed_database(url, args.agents))
        code = asyncio.run(_code_for_real_agent(url))
        with targets.ours(url, base, "--health-details") as server:  # its socket count, printed below
            agent = start_real_agent(server.url, code, base)
            try:
                samples = asyncio.run(soak(server.url, server.pid, agent.pid, agents, args))
            finally:
                agent.send_signal(signal.SIGINT)
                try:
                    agent.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    agent.kill()
                    agent.wait()
    print(f"\nRSS slope over {args.minutes:g} min ({len(samples['server'])} samples, least squares):")
    for name, points in samples.items():
        first, last = points[0][1] / 2**20, points[-1][1] / 2**20
        print(f"  {name:6s} {slope_kib_per_min(points):+8.1f} KiB/min   ({first:.1f} → {last:.1f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
