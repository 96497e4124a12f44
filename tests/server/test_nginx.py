"""docs/nginx.conf, rendered and run by a real nginx in front of two server processes sharing Redis."""

from __future__ import annotations

import os
import pwd
import shutil
import string
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import socketio

from support.servers import ServerProcess, free_port, wait_healthy
from support.team import LiveClient, get, make_team, put_presence

TEMPLATE = Path(__file__).parents[2] / "docs" / "nginx.conf"
#: docs/nginx.conf's enrollment burst per address: a rollout of about 1,000 agents behind one NAT address.
ENROLL_BURST = 1000

#: The parts a real installation has in /etc/nginx/nginx.conf, here kept inside the test's directory.
MAIN_CONF = """\
daemon off;
worker_processes 1;
{user}
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
events {{ worker_connections 512; }}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    include {dir}/staffpulse.conf;
}}
"""


class NginxFront(ServerProcess):
    """nginx with the shipped site file in front of ``backends``; the test helpers use it as one server."""

    def __init__(self, backends: tuple[ServerProcess, ...], workdir: Path) -> None:
        super().__init__(backends[0].database_url, workdir / "error.log")
        self.backends, self.workdir, self.port = backends, workdir, free_port()
        self.nginx: subprocess.Popen[bytes] | None = None

    def render(self) -> Path:
        site = string.Template(TEMPLATE.read_text()).safe_substitute(
            STAFFPULSE_LISTEN=f"127.0.0.1:{self.port}",
            STAFFPULSE_SERVERS=" ".join(f"server 127.0.0.1:{b.port};" for b in self.backends))
        (self.workdir / "staffpulse.conf").write_text(site)
        # Running as root, nginx would hand its workers to "nobody", who cannot enter the test's private dir.
        user = f"user {pwd.getpwuid(os.geteuid()).pw_name};" if os.geteuid() == 0 else ""
        main = self.workdir / "nginx.conf"
        main.write_text(MAIN_CONF.format(dir=self.workdir, user=user))
        return main

    def start(self) -> NginxFront:
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        if not Path(binary).exists():
            raise RuntimeError("nginx not found: apt-get install nginx")
        main = self.render()
        self.nginx = subprocess.Popen([binary, "-e", str(self.log_path), "-p", str(self.workdir), "-c", str(main)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        nginx = self.nginx
        if wait_healthy(self.url, alive=lambda: nginx.poll() is None):
            return self
        raise RuntimeError(f"nginx did not serve; see {self.log_path}:\n{self.log_path.read_text()}")

    def stop(self, *, kill: bool = False) -> None:
        if self.nginx is not None:
            self.nginx.kill() if kill else self.nginx.terminate()
            self.nginx.wait(timeout=10)
            self.nginx = None


@pytest.fixture(scope="module")
def front(cluster: tuple[ServerProcess, ServerProcess],
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[NginxFront]:
    proxy = NginxFront(cluster, tmp_path_factory.mktemp("nginx")).start()
    yield proxy
    proxy.stop()


def sockets_held(front: NginxFront) -> int:
    count: int = requests.get(front.url + "/healthz", timeout=5).json()["sockets"]
    return count


def test_rest_and_live_events_through_nginx(front: NginxFront) -> None:
    manager, member = make_team(front, roles=["manager", "member"]).people  # enrollment through nginx
    assert get(front, member, "/api/v1/me").json()["device_id"] == member.device_id
    watcher = LiveClient(front, manager.token).connect()  # a websocket through nginx
    try:
        # REST goes round robin: one process holds the watcher's socket, the other none.
        assert {sockets_held(front) for _ in range(4)} == {0, 1}
        # So these two updates are handled one by each process; the watcher hears both.
        for seq, state in enumerate(["break", "idle"], start=1):
            assert put_presence(front, member, state, seq=seq).status_code == 200
            watcher.wait_for("presence", lambda d, s=state: d["user_id"] == member.user_id and d["state"] == s)
    finally:
        watcher.close()


def test_long_polling_sticks_to_one_process_through_nginx(front: NginxFront) -> None:
    manager, member = make_team(front, roles=["manager", "member"]).people
    heard = threading.Event()
    client = socketio.Client(reconnection=False)

    @client.on("presence")
    def on_presence(data: dict[str, Any]) -> None:
        if data["user_id"] == member.user_id and data["state"] == "break":
            heard.set()

    # Every poll of the session must reach the process that holds it: ip_hash in the socket pool.
    client.connect(front.url, socketio_path="/api/socket", auth={"token": manager.token}, transports=["polling"],
                   wait_timeout=10)
    try:
        assert put_presence(front, member, "break", seq=1).status_code == 200
        assert heard.wait(5), "the polling client heard nothing"
        assert client.connected
    finally:
        # A polling client's plain disconnect() waits out its pending long poll (up to the 20 s ping interval).
        client.eio.disconnect(abort=True)


def test_nginx_limits_enrollment_per_address_in_the_protocols_error_shape(
        cluster: tuple[ServerProcess, ServerProcess], tmp_path: Path) -> None:
    """Enrollment is unauthenticated: past the burst (1,000: a whole rollout behind one NAT address enrolls at
    once) one address gets 429 with Retry-After and the JSON error body, from nginx, before the servers see the
    request. A fresh nginx, so its counters are this test's alone."""
    front = NginxFront(cluster, tmp_path).start()
    try:
        with requests.Session() as session:
            answers = [session.post(front.url + "/api/v1/enroll", json={"code": "nope"}, timeout=10)
                       for _ in range(ENROLL_BURST + 40)]
    finally:
        front.stop()
    by_nginx = [index for index, a in enumerate(answers) if a.status_code == 429
                and a.json()["error"]["message"] == "too many requests from this address; retry later"]
    # The burst passes, then 30 a minute: the 40 after it are refused less those refilled while sending.
    assert 10 <= len(by_nginx) <= 40, [a.status_code for a in answers]
    assert min(by_nginx) >= ENROLL_BURST, "the burst passes"
    assert answers[by_nginx[0]].headers["Retry-After"] == "60"
    assert answers[by_nginx[0]].json()["error"]["code"] == "rate_limited"
