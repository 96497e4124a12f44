"""Issue 13, review of item 6: the agent refused ``http://`` server URLs but followed redirects, so a 307/308 from
a misconfigured server or proxy to ``http://…`` resent the enrollment code or key, or the token, in clear text.

Two loopback servers started here: A answers every request 307 (or 308) to B, and B records what reaches it.
"""

from __future__ import annotations

import contextlib
import http.server
import threading
from collections.abc import Iterator

import pytest

from protocol.schema import Enrollment
from sync.api import ApiClient
from sync.errors import Refused


class Recorder(http.server.BaseHTTPRequestHandler):
    """Server B: records each request (path and body) it receives, and answers 200 with an empty JSON."""

    received: list[tuple[str, bytes]]

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.received.append((self.path, self.rfile.read(length)))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    do_GET = do_POST = do_PUT = _answer

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test asserts on ``received``."""


def redirector(target: str, status: int) -> type[http.server.BaseHTTPRequestHandler]:
    """Server A: answers every request ``status`` to the same path on ``target``, the body unread."""

    class Redirect(http.server.BaseHTTPRequestHandler):
        def _answer(self) -> None:
            self.send_response(status)
            self.send_header("Location", target + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_POST = do_PUT = _answer

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: nothing to learn from it."""

    return Redirect


@contextlib.contextmanager
def serving(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """``handler`` served on an ephemeral loopback port in a thread; its URL."""
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as httpd:
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{httpd.server_address[1]}"
        finally:
            httpd.shutdown()
            thread.join(timeout=10)


@pytest.fixture
def server_b() -> Iterator[tuple[str, list[tuple[str, bytes]]]]:
    received: list[tuple[str, bytes]] = []
    handler = type("B", (Recorder,), {"received": received})
    with serving(handler) as url:
        yield url, received


@pytest.fixture(params=[307, 308])
def server_a(request: pytest.FixtureRequest, server_b: tuple[str, list[tuple[str, bytes]]]) -> Iterator[str]:
    with serving(redirector(server_b[0], request.param)) as url:
        yield url


def test_enrollment_does_not_follow_a_redirect(server_a: str, server_b: tuple[str, list[tuple[str, bytes]]]) -> None:
    client = ApiClient(server_a, lambda: None)
    with pytest.raises(Refused) as refused:
        client.enroll(Enrollment(code="ABCDE-FGHIJ", device_name="pc", platform="linux", agent_version="test"))
    assert refused.value.code == "redirect"
    assert server_a in str(refused.value) and "redirect" in str(refused.value)
    assert server_b[1] == [], "the code reached the redirect's target"


def test_a_token_request_does_not_follow_a_redirect(server_a: str,
                                                    server_b: tuple[str, list[tuple[str, bytes]]]) -> None:
    client = ApiClient(server_a, lambda: "secret-token")
    with pytest.raises(Refused) as refused:
        client.me()
    assert refused.value.status in (307, 308)
    assert server_a in str(refused.value)
    assert server_b[1] == [], "the token reached the redirect's target"
