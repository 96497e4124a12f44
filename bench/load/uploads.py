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
from collections import Counter
from collections.abc import Sequence
from typing import Any


def post_request(url: str, path: str, token: str, body: Any) -> bytes:
    """The bytes of ``POST path`` with a JSON ``body`` and the device's bearer token."""
    host = urllib.parse.urlsplit(url).netloc
    payload = json.dumps(body).encode()
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n")
    return head.encode() + payload


#: Seconds one request may take before it counts as failed and its connection is dropped.
REQUEST_TIMEOUT_S = 60.0


class _Fresh(Exception):
    """A kept-alive connection was found closed before any answer came: send the request again, once."""


async def _answer(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one response with a Content-Length body, as both servers send; its status, and whether the
    server keeps the connection open."""
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        raise ValueError(f"not an HTTP status line: {status_line[:60]!r}")
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    if "content-length" not in headers:
        raise ValueError("an answer without Content-Length (chunked?) is not read by this client")
    await reader.readexactly(int(headers["content-length"]))
    return int(parts[1]), headers.get("connection", "").lower() != "close"


async def send_all(url: str, requests: Sequence[bytes], concurrency: int) -> tuple[list[float], dict[str, int]]:
    """Send ``requests`` over ``concurrency`` keep-alive connections; the latency (s) of every 200, and a
    count of everything else by status or transport error. A broken connection is reopened for the next
    request; a request that found its kept-alive connection already closed is sent again on a new one."""
    parts = urllib.parse.urlsplit(url)
    queue = list(reversed(requests))
    took: list[float] = []
    failed: Counter[str] = Counter()

    async def connection() -> None:
        reader: asyncio.StreamReader | None = None
        writer: asyncio.StreamWriter | None = None

        async def exchange(request: bytes) -> int:
            nonlocal reader, writer
            reused = writer is not None
            if reader is None or writer is None:
                reader, writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
            writer.write(request)
            try:
                status, keep = await _answer(reader)
            except asyncio.IncompleteReadError as exc:
                if reused and not exc.partial:
                    raise _Fresh from exc
                raise
            if not keep:
                writer.close()
                reader = writer = None
            return status

        while queue:
            request = queue.pop()
            began = time.monotonic()
            try:
                async with asyncio.timeout(REQUEST_TIMEOUT_S):
                    try:
                        status = await exchange(request)
                    except _Fresh:
                        if writer is not None:
                            writer.close()
                        reader = writer = None
                        status = await exchange(request)
            except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                    ValueError) as exc:
                failed[type(exc).__name__] += 1
                if writer is not None:
                    writer.close()
                reader = writer = None
                continue
            if status == 200:
                took.append(time.monotonic() - began)
            else:
                failed[str(status)] += 1
        if writer is not None:
            writer.close()
            await writer.wait_closed()

    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return took, dict(failed)
