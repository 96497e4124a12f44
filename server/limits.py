"""Abuse limits: a cap on request bodies, a per-device budget for writes, and a budget for failed enrollments.

All answer with the protocol's JSON error so an agent can tell a refusal from a crash.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Hashable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.errors import RateLimited

#: Buckets kept at most before full ones are forgotten: a bucket back at ``burst`` says nothing a new one
#: would not, and keys an attacker makes up (one per guessed code) must not grow memory without bound.
MAX_BUCKETS = 10_000


def refill(tokens: float, elapsed: float, *, burst: int, rate: float) -> float:
    """A token bucket's tokens after ``elapsed`` seconds of refilling at ``rate`` per second, at most ``burst``:
    the one rule of every budget here (``Budget``, ``TokenBucket``)."""
    return min(float(burst), tokens + elapsed * rate)


class Budget:
    """One token bucket: ``burst`` at once, refilled at ``rate`` per second; small (slots), as every socket holds
    one (server.socket_guard)."""

    __slots__ = ("_at", "_burst", "_rate", "_tokens")

    def __init__(self, burst: int, rate: float) -> None:
        self._burst, self._rate = burst, rate
        self._tokens = float(burst)
        self._at = time.monotonic()

    def take(self) -> bool:
        """Spend a token; False when none is left (nothing is spent then)."""
        now = time.monotonic()
        self._tokens = refill(self._tokens, now - self._at, burst=self._burst, rate=self._rate)
        self._at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


class TokenBucket:
    """Per-key token buckets: ``burst`` requests at once, refilled at ``rate`` per second, answering 429 with how
    long to wait; kept as (tokens, stamp) pairs, as a budget for every key an attacker makes up would cost more."""

    def __init__(self, *, burst: int, rate: float, clock: Callable[[], float] = time.monotonic,
                 what: str = "writes from this device") -> None:
        self._burst, self._rate, self._clock, self._what = burst, rate, clock, what
        self._buckets: dict[Hashable, tuple[float, float]] = {}

    def _tokens(self, key: Hashable, now: float) -> float:
        tokens, stamp = self._buckets.get(key, (float(self._burst), now))
        return refill(tokens, now - stamp, burst=self._burst, rate=self._rate)

    def take(self, key: Hashable) -> None:
        now = self._clock()
        tokens = self._tokens(key, now)
        if tokens < 1.0:
            wait = math.ceil((1.0 - tokens) / self._rate)
            self._buckets[key] = (tokens, now)
            raise RateLimited(f"too many {self._what}; retry in {wait} s", retry_after=wait)
        if len(self._buckets) >= MAX_BUCKETS:
            self._forget_full(now)
        self._buckets[key] = (tokens - 1.0, now)

    def give_back(self, key: Hashable) -> None:
        """Return one token taken by ``take``: for attempts that cost only when they fail."""
        now = self._clock()
        self._buckets[key] = (min(float(self._burst), self._tokens(key, now) + 1.0), now)

    def _forget_full(self, now: float) -> None:
        self._buckets = {key: (tokens, stamp) for key, (tokens, stamp) in self._buckets.items()
                         if refill(tokens, now - stamp, burst=self._burst, rate=self._rate) < self._burst}


class EnrollmentLimit:
    """Failed enrollment attempts cost, per client address and, for a valid deployment key, per key.

    *Per address*, before the attempt: each attempt takes a token before it runs, so attempts in flight at once
    are counted, and a successful one gives it back. This is what stops guessing codes and keys: after
    ``burst`` failures an address is answered 429 with ``Retry-After``, then at ``rate`` per second.

    *Per valid key*, after the attempt, and only for failures (a login the key may not enroll): a key holder
    probing the roster from rotating addresses gets 429 in place of the answer once the key's ``burst`` is
    spent. The key is never charged before the attempt, and a success is never refused by it: otherwise any
    staff member holding the company's key could keep it answering 429 with a few bad logins and make every
    silent install fail. Concurrent failures from many addresses may overshoot the burst by the requests in
    flight, which leaks at most that many roster answers.

    *No per-code or per-unknown-key budget*: those are guessed by value, so each guess is a new bucket that
    never fills (and memory an attacker grows); the per-address budget is what limits guessing. A bucket for
    a real code would only let someone who knows the code lock its owner out, and they could use it instead.

    A company enrolling hundreds of machines through one NAT address with a good key is never slowed. The
    address is the peer uvicorn reports: behind a proxy on another host, run ``staffpulse-server serve
    --forwarded-allow-ips <proxy address>`` so it is the client from ``X-Forwarded-For`` (docs/security.md).
    """

    def __init__(self, *, burst: int, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._by_address = TokenBucket(burst=burst, rate=rate, clock=clock,
                                       what="failed enrollment attempts from this address")
        self._by_key = TokenBucket(burst=burst, rate=rate, clock=clock,
                                   what="failed enrollment attempts with this deployment key")

    def charge(self, address: str) -> None:
        """Before an attempt: 429 when ``address`` has failed too often."""
        self._by_address.take(address)

    def succeeded(self, address: str) -> None:
        self._by_address.give_back(address)

    def key_failed(self, key_id: int) -> None:
        """After a valid key's failed attempt: charge the key, or raise 429 (to answer in place of the
        failure) when its budget is spent."""
        self._by_key.take(key_id)


class BodySizeLimit:
    """ASGI middleware refusing bodies over ``max_bytes`` — by Content-Length, or while streaming."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def _refuse(self, send: Send) -> None:
        body = json.dumps({"error": {"code": "too_large", "field": "body",
                                     "message": f"request body exceeds {self.max_bytes} bytes"}}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await self._refuse(send)
                return
        received = 0
        too_large = False

        async def counting_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    too_large = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            # Whatever the app makes of the aborted read (FastAPI turns it into a 400), answer 413 instead.
            if not too_large:
                await send(message)
            elif message["type"] == "http.response.start":
                await self._refuse(send)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except _BodyTooLarge:
            await self._refuse(send)


class _BodyTooLarge(Exception):
    pass

