"""Helpers for tests that run the real agent as a subprocess and inject X input."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.processes import terminate
from support.xdisplay import need_tool

ROOT = Path(__file__).resolve().parents[2]


def xdotool(env: dict[str, str], *args: str) -> None:
    subprocess.run([need_tool("xdotool"), *args], env=env, check=True, timeout=30)


@dataclass
class Agent:
    """A headless agent subprocess with its own data and log directories."""

    process: subprocess.Popen[bytes]
    data: Path
    logs: Path

    def log_text(self) -> str:
        path = self.logs / "agent.log"
        return path.read_text(encoding="utf-8") if path.exists() else ""

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"agent never got to {what}; log:\n{self.log_text()}")
            time.sleep(0.05)

    def wait_for_log(self, text: str, timeout: float = 15) -> None:
        self.wait_for(lambda: text in self.log_text(), f"log {text!r}", timeout)

    def stop(self) -> None:
        assert terminate(self.process) == 0

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(15)


def start_agent(base: Path, env: dict[str, str], *args: str) -> Agent:
    data, logs = base / "data", base / "logs"
    base.mkdir(parents=True, exist_ok=True)
    with (base / "stderr.txt").open("ab") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "staffpulse.sampler", "--data-dir", str(data), "--log-dir", str(logs), *args],
            cwd=ROOT,
            env=env,
            stdout=stderr,
            stderr=stderr,
        )
    return Agent(process, data, logs)


def written(data: Path) -> int:
    """How many minutes the outbox holds (0 before the agent created it and its tables)."""
    try:
        return len(read_slots(data)) if (data / "outbox.sqlite3").exists() else 0
    except sqlite3.OperationalError:  # "no such table": the agent is creating the file right now
        return 0


def read_slots(data: Path) -> dict[int, str]:
    """Every stored slot by start second, read the way any other process could (WAL included)."""
    with sqlite3.connect(data / "outbox.sqlite3") as db:
        return dict(db.execute("SELECT start, body FROM slot").fetchall())
