"""Sync tests talk to a real server process on SQLite (the server suite covers PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.servers import TEST_SERVER_ARGS, ServerProcess
from support.team import Team, make_team


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    base = tmp_path_factory.mktemp("sync-server")
    process = ServerProcess(f"sqlite:///{base / 'server.db'}", base / "server.log", *TEST_SERVER_ARGS).start()
    yield process
    process.stop()


@pytest.fixture
def team(server: ServerProcess) -> Team:
    return make_team(server)
