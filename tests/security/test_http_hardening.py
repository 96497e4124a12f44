"""HTTP hardening against a real server process: security headers on every kind of answer, no API
description and no server details for whoever asks, and no redirect built from the client's Host header."""

from __future__ import annotations

import http.client
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from server.headers import HEADERS
from support.servers import TEST_SERVER_ARGS, ServerProcess
from support.team import Team

EXPECTED = {name.decode(): value.decode() for name, value in HEADERS}


@pytest.fixture(scope="module")
def plain_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server with the defaults an admin gets: no ``--openapi``, no ``--health-details``."""
    base: Path = tmp_path_factory.mktemp("plain-server")
    process = ServerProcess(f"sqlite:///{base / 'server.db'}", base / "server.log").start()
    yield process
    process.stop()


def _batch() -> dict[str, object]:
    start = datetime.now(UTC).replace(second=0, microsecond=0)
    return {"batch_id": str(uuid.uuid4()), "slots": [{
        "start": start.isoformat(), "tracked_s": 60, "active_s": 60, "idle_s": 0, "break_s": 0, "input_s": 30,
        "keys": 10, "clicks": 2, "scrolls": 0, "mouse_px": 100}]}


def test_every_kind_of_answer_carries_the_security_headers(server: ServerProcess, team: Team) -> None:
    person = team.people[1]
    answers = {
        "health": requests.get(server.url + "/healthz", timeout=10),
        "FastAPI route": requests.get(server.url + "/api/v1/me", headers=person.headers, timeout=10),
        "fast path upload": requests.post(server.url + "/api/v1/activity", json=_batch(), headers=person.headers,
                                          timeout=10),
        "refused token": requests.get(server.url + "/api/v1/team", timeout=10),
        "unknown path": requests.get(server.url + "/nope", timeout=10),
        "too large": requests.post(server.url + "/api/v1/activity", data=b"x" * (600 * 1024),
                                   headers={**person.headers, "Content-Type": "application/json"}, timeout=10),
        "socket.io polling": requests.get(server.url + "/api/socket/?EIO=4&transport=polling", timeout=10),
    }
    assert answers["fast path upload"].status_code == 200, answers["fast path upload"].text
    assert answers["too large"].status_code == 413
    for what, answer in answers.items():
        for name, value in EXPECTED.items():
            assert answer.headers.get(name) == value, f"{what}: {name} is {answer.headers.get(name)!r}"
        assert "Strict-Transport-Security" not in answer.headers, f"{what}: HSTS over plain http means nothing"


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"])
def test_the_api_does_not_describe_itself_unless_asked(plain_server: ServerProcess, path: str) -> None:
    answer = requests.get(plain_server.url + path, timeout=10)
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"


def test_health_says_no_version_or_socket_count_unless_asked(plain_server: ServerProcess,
                                                              server: ServerProcess) -> None:
    assert requests.get(plain_server.url + "/healthz", timeout=10).json() == {"status": "ok", "database": True}
    detailed = requests.get(server.url + "/healthz", timeout=10).json()  # TEST_SERVER_ARGS: --health-details
    assert "--health-details" in TEST_SERVER_ARGS
    assert set(detailed) == {"status", "version", "database", "sockets"}


@pytest.mark.parametrize("path", ["/api/v1/team/", "/healthz/", "/api/v1/me/"])
def test_a_trailing_slash_is_not_redirected_to_the_host_the_client_named(plain_server: ServerProcess,
                                                                          path: str) -> None:
    """Starlette's slash redirect built ``Location: http://evil.example/…`` from the Host header: a cache or a
    link checker in front would send people there."""
    connection = http.client.HTTPConnection("127.0.0.1", plain_server.port, timeout=10)
    try:
        connection.putrequest("GET", path, skip_host=True)
        connection.putheader("Host", "evil.example")
        connection.endheaders()
        answer = connection.getresponse()
        answer.read()
    finally:
        connection.close()
    assert answer.getheader("Location") is None
    assert answer.status == 404
