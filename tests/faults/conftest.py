"""Fixtures for the fault suite: a fresh real server per test (SQLite, killable, restartable on its port), a
team whose people live in UTC (so a day's totals are a plain sum of UTC minutes), and the report of figures."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fault_harness import FaultAgent, FaultReport

from support.servers import TEST_SERVER_ARGS, ServerProcess
from support.team import Team, make_team

ServerFactory = Callable[..., ServerProcess]


@pytest.fixture(scope="session")
def fault_report() -> Iterator[FaultReport]:
    report = FaultReport()
    yield report
    if report.records:
        print("\n" + report.render())
        if target := os.environ.get("STAFFPULSE_FAULT_REPORT"):
            report.write(Path(target))


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[ServerFactory]:
    """Start ``staffpulse-server serve`` on a fresh SQLite file with extra flags; stopped after the test."""
    started: list[ServerProcess] = []

    def start(*extra: str) -> ServerProcess:
        base = tmp_path / f"server{len(started)}"
        base.mkdir()
        process = ServerProcess(f"sqlite:///{base / 'server.db'}", base / "server.log", *TEST_SERVER_ARGS,
                                *extra).start()
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def server(start_server: ServerFactory) -> ServerProcess:
    return start_server()


@pytest.fixture
def team(server: ServerProcess) -> Team:
    return make_team(server, roles=("member", "manager"), time_zone="UTC")


@pytest.fixture
def agents() -> Iterator[list[FaultAgent]]:
    """Agents a test started: killed afterwards if the test failed before stopping them."""
    started: list[FaultAgent] = []
    yield started
    for agent in started:
        if agent.running:
            agent.kill()
