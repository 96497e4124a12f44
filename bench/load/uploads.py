"""Upload waves over plain HTTP/1.1 keep-alive connections, so the measuring side is not what is measured.

An aiohttp client spends about as much CPU on a request as a lean server does answering it: with the load
tool's client processes on the same cores as the server, upload waves measured the clients (the Node
reference topped out at the same ~1,000 batches/s as the tool's aiohttp sessions). Here each request is
built as bytes before the wave starts and each answer read only as far as its status and Content-Length:
tens of thousands of requests per second per client process, against a few thousand for a server.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.parse
from collections.abc import Sequence
from typing import Any


def post_request(url: str, path: str, token: str, body: Any) -> bytes:
    """The bytes of ``POST path`` with a JSON ``body`` and the device's bearer token."""
    host = urllib.parse.urlsplit(url).netloc
    payload = json.dumps(body).encode()
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n")
    return head.encode() + payload


async def _answer(reader: asyncio.StreamReader) -> int:
    """Read one response (a Content-Length body, as both servers send); its status."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return int(head.split(b" ", 2)[1])


async def send_all(url: str, requests: Sequence[bytes], concurrency: int) -> tuple[list[float], dict[str, int]]:
    """Send ``requests`` over ``concurrency`` keep-alive connections; the latency (s) of every 200, and a
    count of everything else by status or transport error. A broken connection is reopened for the next."""
    parts = urllib.parse.urlsplit(url)
    queue = list(reversed(requests))
    took: list[float] = []
    failed: dict[str, int] = {}

    async def connection() -> None:
        reader = writer = None
        while queue:
            request = queue.pop()
            began = time.monotonic()
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
                assert reader is not None
                writer.write(request)
                status = await _answer(reader)
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
                failed[type(exc).__name__] = failed.get(type(exc).__name__, 0) + 1
                if writer is not None:
                    writer.close()
                reader = writer = None
                continue
            if status == 200:
                took.append(time.monotonic() - began)
            else:
                failed[str(status)] = failed.get(str(status), 0) + 1
        if writer is not None:
            writer.close()
            await writer.wait_closed()

    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return took, failed
