"""Every server test runs against a real ``staffpulse-server`` process, once on SQLite and once on PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from support.servers import TEST_SERVER_ARGS, PostgresCluster, ServerProcess
from support.team import Team, make_team


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    cluster = PostgresCluster().start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'server.db'}"
    cluster: PostgresCluster = request.getfixturevalue("postgres")
    return cluster.create_database(f"t_{uuid.uuid4().hex[:12]}")


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(database_url, tmp_path_factory.mktemp("log") / "server.log", *TEST_SERVER_ARGS).start()
    yield process
    process.stop()


@pytest.fixture
def team(server: ServerProcess) -> Team:
    return make_team(server)
