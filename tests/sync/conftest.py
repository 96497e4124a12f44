"""Sync tests talk to a real server process on SQLite (the server suite covers PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.servers import ServerProcess, sqlite_server
from support.team import Team, make_team


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with sqlite_server(tmp_path_factory.mktemp("sync-server")) as process:
        yield process


@pytest.fixture
def team(server: ServerProcess) -> Team:
    return make_team(server)
