"""The servers the load tool measures: ours on SQLite or PostgreSQL, or the Node reference, on loopback.

Ours is started with the tests' ``ServerProcess`` (restartable on its port, which the reconnect storm needs)
and PostgreSQL with the tests' throwaway ``PostgresCluster``; only the Node reference needs its own starter.
"""

from __future__ import annotations

import contextlib
import resource
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.support.servers import PostgresCluster, ServerProcess, announced_port

NODE_DIR = Path(__file__).resolve().parents[1] / "node_reference"

def raise_fd_limit() -> int:
    """Lift the soft open-files limit to the hard one; child servers inherit it. Returns the new limit."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


class Ours:
    def __init__(self, process: ServerProcess) -> None:
        self.process = process

    @property
    def url(self) -> str:
        return self.process.url

    @property
    def pid(self) -> int:
        assert self.process.proc is not None
        return self.process.proc.pid

    def stop(self) -> None:
        self.process.stop()

    def start(self) -> Ours:
        self.process.start()  # on the port it had: the agents reconnect to the same address
        return self


class Node:
    """``node server.js`` from bench/node_reference (run ``npm ci`` there once), restartable on its port."""

    def __init__(self, roster: Path, log_path: Path) -> None:
        self.roster, self.log_path, self.port = roster, log_path, 0
        self.proc: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> Node:
        node = shutil.which("node")
        if node is None or not (NODE_DIR / "node_modules").is_dir():
            raise RuntimeError(f"the Node reference needs node and its packages: cd {NODE_DIR} && npm ci")
        with self.log_path.open("a") as log:
            self.proc = subprocess.Popen([node, str(NODE_DIR / "server.js"), "--port", str(self.port), "--roster",
                                          str(self.roster)], stdout=subprocess.PIPE, stderr=log, text=True)
        self.port = announced_port(self.proc, self.log_path, "Node reference")
        return self

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        self.proc = None


@contextlib.contextmanager
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="staffpulse-load-") as path:
        yield Path(path)


@contextlib.contextmanager
def database(kind: str, base: Path) -> Iterator[str]:
    """A fresh database URL: a SQLite file in ``base``, or a throwaway PostgreSQL cluster."""
    if kind == "sqlite":
        yield f"sqlite:///{base / 'load.db'}"
        return
    cluster = PostgresCluster().start()
    try:
        yield cluster.create_database("load")
    finally:
        cluster.stop()


@contextlib.contextmanager
def ours(database_url: str, base: Path, *extra: str) -> Iterator[Ours]:
    # Production settings: a storm round or an upload wave is one write per device, inside the write budget.
    process = ServerProcess(database_url, base / "server.log", *extra).start()
    try:
        yield Ours(process)
    finally:
        process.stop()


@contextlib.contextmanager
def node(roster: Path, base: Path) -> Iterator[Node]:
    process = Node(roster, base / "node.log").start()
    try:
        yield process
    finally:
        process.stop()
