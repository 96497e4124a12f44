"""Every body that is not JSON the server can read is answered 400 ``malformed_json`` naming ``body``, on every
route that takes one, through the fast path and FastAPI's alike (issue 13, item 14).

A 100,000-deep array passes pydantic's JSON parser by refusing it (the fast path hands it on), then makes the
standard library's decoder raise ``RecursionError``, which FastAPI turned into a generic 400 ``http_error``;
bytes that are not UTF-8 took the same way. Sent over raw HTTP: the body exactly as written.
"""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest

from support.servers import ServerProcess
from support.team import Team

DEEP = 100_000

BODIES = {
    "100,000-deep array": b"[" * DEEP + b"]" * DEEP,
    "100,000-deep object": b'{"":' * DEEP + b"1" + b"}" * DEEP,  # 500 kB: under the body cap
    "deep inside a field": b'{"batch_id": ' + b"[" * DEEP + b"]" * DEEP + b', "slots": []}',
    "not UTF-8": b'{"device_name": "\xff\xfe"}',
    "cut short": b'{"batch_id": ',
}

ROUTES = [("POST", "/api/v1/enroll"), ("POST", "/api/v1/activity"), ("PUT", "/api/v1/presence")]


def send(server: ServerProcess, method: str, path: str, body: bytes, token: str | None) -> tuple[int, dict[str, str]]:
    address = urlsplit(server.url)
    connection = http.client.HTTPConnection(address.hostname or "127.0.0.1", address.port, timeout=30)
    headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {token}"} if token else {})
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        error: dict[str, str] = json.loads(response.read())["error"]
        return response.status, error
    finally:
        connection.close()


@pytest.mark.parametrize("route", ROUTES, ids=lambda route: " ".join(route))
@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES.keys())
def test_unreadable_json_is_malformed_json_on_every_route(server: ServerProcess, team: Team, route: tuple[str, str],
                                                          body: bytes) -> None:
    token = None if route[1] == "/api/v1/enroll" else team.people[1].token
    status, error = send(server, *route, body, token)
    assert (status, error["code"], error.get("field")) == (400, "malformed_json", "body"), error
    assert error["message"] == "request body is not valid JSON"
