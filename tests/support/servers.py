"""A real ``staffpulse-server serve`` process on an ephemeral loopback port, and a real PostgreSQL."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import requests

SERVER_START_TIMEOUT_S = 30

#: Short grace and sweep so offline and revocation tests take a second, not a minute. Old fixed dates (DST
#: days) must be accepted, so retention is long. Tests count sockets through ``/healthz``.
TEST_SERVER_ARGS = ("--offline-grace", "1", "--sweep-interval", "0.2", "--retention-days", "3650",
                    "--health-details")


def announced_port(proc: subprocess.Popen[str], log_path: Path, what: str, verify: str | bool = True) -> int:
    """The port a just-started server names on its first stdout line (``… listening on http(s)://HOST:PORT``),
    returned once its ``/healthz`` answers; ``RuntimeError`` pointing at ``log_path`` otherwise. ``verify``:
    the CA bundle to trust when the server serves HTTPS."""
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if " listening on http" not in line:
        proc.kill()
        raise RuntimeError(f"{what} did not start: {line!r}; see {log_path}:\n{log_path.read_text()}")
    scheme, _, address = line.split(" listening on ", 1)[1].split()[0].partition("://")
    port = int(address.rsplit(":", 1)[1])
    if not wait_healthy(f"{scheme}://127.0.0.1:{port}", alive=lambda: proc.poll() is None, verify=verify):
        raise RuntimeError(f"{what} not healthy in time; see {log_path}")
    return port


class ServerProcess:
    """``staffpulse-server serve --port 0``; restartable on the same port so clients can reconnect.
    ``tls``: (certificate, key) the server serves HTTPS with; clients here trust the certificate."""

    def __init__(self, database_url: str, log_path: Path, *extra: str, tls: tuple[Path, Path] | None = None) -> None:
        self.database_url, self.log_path, self.extra, self.tls = database_url, log_path, list(extra), tls
        self.port = 0
        self.proc: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def start(self) -> ServerProcess:
        log = self.log_path.open("a")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "server.cli", "serve", "--port", str(self.port), "--database-url",
             self.database_url, "--log-level", "warning", *self.extra,
             *(("--ssl-certfile", str(self.tls[0]), "--ssl-keyfile", str(self.tls[1])) if self.tls else ())],
            stdout=subprocess.PIPE, stderr=log, text=True)
        log.close()
        self.port = announced_port(self.proc, self.log_path, "server", verify=str(self.tls[0]) if self.tls else True)
        return self

    def stop(self, *, kill: bool = False) -> None:
        if self.proc is None:
            return
        if kill:
            self.proc.kill()
        else:
            self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


def wait_healthy(url: str, *, alive: Callable[[], bool], timeout: float = SERVER_START_TIMEOUT_S,
                 verify: str | bool = True) -> bool:
    """Poll ``url``/healthz until it answers 200 (True), the process dies or time runs out (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive():
        try:
            if requests.get(url + "/healthz", timeout=1, verify=verify).ok:
                return True
        except requests.ConnectionError:
            pass
        time.sleep(0.05)
    return False


def throwaway_certificate(directory: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, valid one day, and its key: (``name``.pem, ``name``.key)."""
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-keyout", str(key),
                    "-out", str(cert), "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _pg_bin(name: str) -> str:
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"PostgreSQL binary {name!r} not found: apt-get install postgresql")
    return found


class PostgresCluster:
    """A throwaway PostgreSQL cluster on a free loopback port, trust auth, removed on stop.

    PostgreSQL refuses to run as root, and CI runs as root: then the cluster runs as the unprivileged
    ``postgres`` user (Debian's package creates it) on a data dir that user owns.
    """

    def __init__(self) -> None:
        # Not under pytest's tmp dir: that is private to root, and the postgres user must reach the data dir.
        self.base = Path(tempfile.mkdtemp(prefix="staffpulse-pg-"))
        self.data = self.base / "data"
        self.port = free_port()
        self._as: list[str] = []

    def _run(self, *cmd: str) -> None:
        done = subprocess.run([*self._as, *cmd], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if done.returncode:
            raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr}")

    def start(self) -> PostgresCluster:
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.base, owner.pw_uid, owner.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        self._run(_pg_bin("initdb"), "-D", str(self.data), "-U", "staffpulse", "--auth=trust", "-E", "UTF8")
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.base / "pg.log"), "-w", "-o",
                  f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off "
                  "-c max_connections=300", "start")
        return self

    def create_database(self, name: str) -> str:
        self._run(_pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "staffpulse", name)
        return f"postgresql+asyncpg://staffpulse@127.0.0.1:{self.port}/{name}"

    def halt(self) -> None:
        """Stop the cluster, keeping its files: a database outage under a running server."""
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.halt()
        shutil.rmtree(self.base, ignore_errors=True)


@contextlib.contextmanager
def sqlite_server(base: Path, *extra: str) -> Iterator[ServerProcess]:
    """A test server (``TEST_SERVER_ARGS`` and ``extra``) on a fresh SQLite file in ``base``, stopped afterwards."""
    process = ServerProcess(f"sqlite:///{base / 'server.db'}", base / "server.log", *TEST_SERVER_ARGS,
                            *extra).start()
    try:
        yield process
    finally:
        process.stop()
