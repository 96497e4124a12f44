"""Every server test runs against a real ``staffpulse-server`` process, once on SQLite and once on PostgreSQL.

The multi-process tests add a real ``redis-server`` and two server processes sharing it and one database.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from support.servers import TEST_SERVER_ARGS, PostgresCluster, ServerProcess, free_port
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


class RedisServer:
    """``redis-server`` on a free loopback port that persists nothing, stopped with the fixture."""

    def __init__(self, workdir: Path) -> None:
        self.workdir, self.port = workdir, free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server not found: apt-get install redis-server")
        with (self.workdir / "redis.log").open("ab") as log:
            self.proc = subprocess.Popen([binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                          "--appendonly", "no", "--dir", str(self.workdir)],
                                         stdout=log, stderr=subprocess.STDOUT)
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                client.close()
                return self
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError(f"redis-server did not start; see {self.workdir / 'redis.log'}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One Redis per module, so two clusters never share a pub/sub channel or device keys."""
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server.url
    server.stop()


@pytest.fixture(scope="module")
def cluster(database_url: str, redis_url: str,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """Two server processes on one database and one Redis, as behind a load balancer."""
    logs = tmp_path_factory.mktemp("cluster")
    # One after the other: the first brings the schema up to date before the second looks at it.
    processes = tuple(ServerProcess(database_url, logs / f"{name}.log", *TEST_SERVER_ARGS, "--redis-url", redis_url)
                      .start() for name in ("a", "b"))
    yield processes[0], processes[1]
    for process in processes:
        process.stop()
