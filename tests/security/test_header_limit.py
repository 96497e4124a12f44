"""A request's head is capped: a client streaming one endless header (64 MB in the attack) was buffered whole
by the server. Over raw TCP, since no HTTP client sends such a thing: the server answers 431 in the protocol's
error shape and closes the connection soon after the cap, and its memory does not grow."""

from __future__ import annotations

import json
import socket

import psutil
import requests

from server.http_protocol import MAX_HEAD_BYTES
from support.servers import ServerProcess

CHUNK = 64 * 1024
ATTEMPT = 16 * 1024 * 1024  # what the client tries to send; the attack used 64 MB


def test_an_endless_header_is_refused_and_the_connection_closed(server: ServerProcess) -> None:
    assert server.proc is not None
    process = psutil.Process(server.proc.pid)
    before = process.memory_info().rss
    sent = 0
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as client:
        client.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Filler: ")
        try:
            while sent < ATTEMPT:
                client.sendall(b"a" * CHUNK)
                sent += CHUNK
        except (BrokenPipeError, ConnectionResetError):
            pass  # closed by the server: what should happen
        client.settimeout(30)
        answer = b""
        try:
            while chunk := client.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass
    # The kernel's socket buffers take a few MB the server never read; the server itself stopped at the cap.
    assert sent < ATTEMPT, f"the server read {sent} bytes of one header without closing"
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert json.loads(body)["error"]["field"] == "headers"
    assert b"\r\nx-content-type-options: nosniff\r\n" in head + b"\r\n", "the security headers, as on every answer"
    assert process.memory_info().rss - before < 8 * 1024 * 1024
    assert requests.get(server.url + "/healthz", timeout=10).ok


def test_ordinary_heads_and_large_bodies_pass(server: ServerProcess) -> None:
    """The cap counts the head only: a body sent with it in one write is not mistaken for header bytes."""
    answer = requests.get(server.url + "/healthz", headers={"X-Filler": "a" * (MAX_HEAD_BYTES // 2)}, timeout=10)
    assert answer.ok
    body = b'{"code": "' + b"x" * (400 * 1024) + b'"}'
    refused = requests.post(server.url + "/api/v1/enroll", data=body, headers={"Content-Type": "application/json"},
                            timeout=10)
    assert refused.status_code == 422, refused.text  # validated, not cut off as a head


def test_pipelined_requests_in_one_write_are_not_counted_as_one_head(server: ServerProcess) -> None:
    count = 2 * MAX_HEAD_BYTES // 40  # about 80 KB of small requests, each well under the cap
    request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as client:
        client.sendall(request * count)
        answers = b""
        while answers.count(b"HTTP/1.1 ") < count:
            chunk = client.recv(65536)
            assert chunk, f"closed after {answers.count(b'HTTP/1.1 ')} of {count} answers"
            answers += chunk
    assert answers.count(b"HTTP/1.1 200 ") == count
