"""An HTTP proxy in front of the real server that can answer with scripted failures.

Used to see how the agent meets 5xx, 429 and dropped connections without changing the server: requests pass
through to the real server unless a scripted answer is queued for them. ``rewrites`` change the real server's
answers on the way (e.g. a refusal's words or code, carried in a long-polling socket.io answer).
"""

from __future__ import annotations

import collections
import dataclasses
import ssl
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

DROP = 0  # close the connection without an answer
FORWARD_THEN_DROP = -1  # let the server handle the request, then lose its answer (a crash "mid-upload")


@dataclasses.dataclass(frozen=True)
class Scripted:
    status: int  # an HTTP status to answer with, or DROP / FORWARD_THEN_DROP
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b'{"error": {"code": "scripted", "message": "scripted failure"}}'


class FaultProxy:
    def __init__(self, target: str, *, tls: tuple[Path, Path] | None = None) -> None:
        """``tls`` = (certificate, key) serves HTTPS, like a TLS-terminating corporate proxy."""
        self.target = target.rstrip("/")
        self._scheme = "https" if tls else "http"
        self.script: collections.deque[Scripted] = collections.deque()
        self.seen: list[tuple[str, str, int]] = []  # method, path, status answered
        self.rewrites: list[tuple[bytes, bytes]] = []  # (old, new) replaced in every forwarded answer's body
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: object) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                with proxy._lock:
                    scripted = proxy.script.popleft() if proxy.script else None
                if scripted is not None and scripted.status in (DROP, FORWARD_THEN_DROP):
                    if scripted.status == FORWARD_THEN_DROP:
                        proxy._forward(self.command, self.path, body, self.headers.items())
                    proxy.seen.append((self.command, self.path, scripted.status))
                    self.close_connection = True
                    self.connection.close()
                    return
                if scripted is not None:
                    status, headers, content = scripted.status, list(scripted.headers), scripted.body
                    headers.append(("Content-Type", "application/json"))
                else:
                    status, headers, content = proxy._forward(self.command, self.path, body, self.headers.items())
                proxy.seen.append((self.command, self.path, status))
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PUT = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _forward(self, method: str, path: str, body: bytes | None,
                 headers: Iterable[tuple[str, str]]) -> tuple[int, list[tuple[str, str]], bytes]:
        """Pass the request to the real server; a server that is down is a 502, as from a real proxy."""
        forwarded = {k: v for k, v in headers if k.lower() not in ("host", "connection")}
        try:
            answer = requests.request(method, self.target + path, data=body, headers=forwarded, timeout=30)
        except requests.ConnectionError:
            return 502, [("Content-Type", "application/json")], b'{"error": {"code": "bad_gateway", "message": "down"}}'
        kept = [(k, v) for k, v in answer.headers.items()
                if k.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding")]
        content = answer.content
        for old, new in self.rewrites:
            content = content.replace(old, new)
        return answer.status_code, kept, content

    @property
    def url(self) -> str:
        return f"{self._scheme}://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def fail_next(self, *answers: Scripted) -> None:
        with self._lock:
            self.script.extend(answers)
