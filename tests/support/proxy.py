"""An HTTP proxy in front of the real server that can answer with scripted failures.

Used to see how the agent meets 5xx, 429 and dropped connections without changing the server: requests pass
through to the real server unless a scripted answer is queued for them.
"""

from __future__ import annotations

import collections
import dataclasses
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests


@dataclasses.dataclass(frozen=True)
class Scripted:
    status: int  # 0 = drop the connection without an answer
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b'{"error": {"code": "scripted", "message": "scripted failure"}}'


class FaultProxy:
    def __init__(self, target: str) -> None:
        self.target = target.rstrip("/")
        self.script: collections.deque[Scripted] = collections.deque()
        self.seen: list[tuple[str, str, int]] = []  # method, path, status answered
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
                if scripted is not None and scripted.status == 0:
                    proxy.seen.append((self.command, self.path, 0))
                    self.close_connection = True
                    self.connection.close()
                    return
                if scripted is not None:
                    status, headers, content = scripted.status, list(scripted.headers), scripted.body
                    headers.append(("Content-Type", "application/json"))
                else:
                    forwarded = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                    answer = requests.request(self.command, proxy.target + self.path, data=body, headers=forwarded,
                                              timeout=30)
                    status, content = answer.status_code, answer.content
                    headers = [(k, v) for k, v in answer.headers.items()
                               if k.lower() not in ("content-length", "transfer-encoding", "connection",
                                                    "content-encoding")]
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
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail_next(self, *answers: Scripted) -> None:
        with self._lock:
            self.script.extend(answers)
