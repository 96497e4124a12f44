"""Security tests run against one real server process on SQLite per module (the server suite covers
PostgreSQL). The write rate limit is lifted so generated requests reach validation instead of answering 429;
the limit itself is proven in tests/server/test_limits.py."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from support.servers import TEST_SERVER_ARGS, ServerProcess
from support.team import Team, make_team

UNLIMITED_WRITES = ("--write-burst", "1000000", "--write-rate", "1000000")


@contextlib.contextmanager
def security_server(tmp_path_factory: pytest.TempPathFactory, name: str, *extra: str) -> Iterator[ServerProcess]:
    """A server with the write limit lifted, and ``extra`` ``serve`` flags, in a fresh folder ``name``."""
    base = tmp_path_factory.mktemp(name)
    process = ServerProcess(f"sqlite:///{base / 'server.db'}", base / "server.log", *TEST_SERVER_ARGS,
                            *UNLIMITED_WRITES, *extra).start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with security_server(tmp_path_factory, "security-server") as process:
        yield process


@pytest.fixture
def team(server: ServerProcess) -> Team:
    return make_team(server)
