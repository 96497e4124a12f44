"""Security tests run against one real server process on SQLite per module (the server suite covers
PostgreSQL). The write rate limit is lifted so generated requests reach validation instead of answering 429;
the limit itself is proven in tests/server/test_limits.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.servers import TEST_SERVER_ARGS, ServerProcess
from support.team import Team, make_team

UNLIMITED_WRITES = ("--write-burst", "1000000", "--write-rate", "1000000")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    base = tmp_path_factory.mktemp("security-server")
    process = ServerProcess(f"sqlite:///{base / 'server.db'}", base / "server.log", *TEST_SERVER_ARGS,
                            *UNLIMITED_WRITES).start()
    yield process
    process.stop()


@pytest.fixture
def team(server: ServerProcess) -> Team:
    return make_team(server)
