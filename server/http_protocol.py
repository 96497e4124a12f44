"""uvicorn's httptools protocol with a cap on a request's head (request line and headers).

uvicorn's httptools protocol (what ``serve`` runs: uvicorn[standard] installs httptools) sets no limit on the
head: httptools keeps a header's value in memory until its end, so one request with a 64 MB header held 64 MB
(h11's ``h11_max_incomplete_event_size`` applies only to the h11 protocol). Here the bytes fed to the parser
while a head is incomplete are counted, and past ``MAX_HEAD_BYTES`` the request is answered 431 with the
protocol's error body and the connection closed: a connection costs at most the cap plus one read.

Counting happens after each read is parsed, and only for a read that leaves a head incomplete and ended no
request: a read that completes a head and carries a body, or carries whole pipelined requests, does not count
(bodies have their own cap, ``server.limits.BodySizeLimit``). So a head may grow to the cap plus one read.
This leans on uvicorn's protocol callbacks (``on_headers_complete``, ``on_message_complete``,
``data_received``); tests/security/test_header_limit.py fails if they stop being called.
"""

from __future__ import annotations

import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from server.headers import HEADERS

#: Node's default limit for the whole head; the agent's requests carry well under 1 KiB.
MAX_HEAD_BYTES = 16 * 1024


class HeadLimitedHttpTools(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True  # a connection starts with a request's head
        self._head_bytes = 0
        self._request_ended = False  # during this read

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_head, self._head_bytes = True, 0  # the next bytes are the next request's head
        self._request_ended = True
        super().on_message_complete()

    def data_received(self, data: bytes) -> None:
        self._request_ended = False
        super().data_received(data)
        if not self._in_head or self._request_ended or self.transport.is_closing():
            return
        self._head_bytes += len(data)
        if self._head_bytes > MAX_HEAD_BYTES:
            self._refuse()

    def _refuse(self) -> None:
        body = json.dumps({"error": {"code": "too_large", "field": "headers", "message":
                                     f"request line and headers exceed {MAX_HEAD_BYTES} bytes"}}).encode()
        head = [b"HTTP/1.1 431 Request Header Fields Too Large", b"content-type: application/json",
                b"content-length: %d" % len(body), b"connection: close", *(b"%s: %s" % header for header in HEADERS)]
        self.transport.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
        self.transport.close()
