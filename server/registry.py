"""Which devices hold a socket, and which socket: this process's view, or every process's through Redis.

The live hub asks four things: claim a device for a new socket (and learn the socket it replaces, wherever
that runs, so one device keeps one socket), release it when that socket ends, renew the claims of this
process's sockets, and which of some devices are connected anywhere, since when (a device that has not
reported a state yet shows active since it connected).

``LocalRegistry`` answers from memory: right for a single process, and the default. ``RedisRegistry`` keeps
one lease key per device (``staffpulse:device:{id}`` holding ``"{sid} {connected at}"``) that expires after ``lease_s``.
Each process's sweeper renews the leases of its own sockets, so a process that dies without a goodbye
(``kill -9``, a lost machine) lets its devices go within one lease instead of leaving their users online
forever.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Protocol

import redis.asyncio as redis

#: A lease outlives this many missed sweeps, so one slow pass does not make a connected device look gone.
LEASE_SWEEPS = 3

KEY_PREFIX = "staffpulse:device:"


@dataclasses.dataclass(frozen=True)
class Claim:
    """Socket ``sid``, connected at ``since``, is device ``device_id``'s one socket."""

    device_id: int
    sid: str
    since: datetime


class Registry(Protocol):
    async def claim(self, claim: Claim) -> str | None:
        """Make the claim's socket the device's; return the sid it replaces, on whichever process."""

    async def release(self, claim: Claim) -> bool:
        """Forget the claim if the device's socket is still its socket; whether it was."""

    async def renew(self, claims: Sequence[Claim]) -> set[str]:
        """Keep this process's claims alive, newest first; return the sids another socket replaced since."""

    async def connected(self, device_ids: Collection[int]) -> dict[int, datetime]:
        """Those of ``device_ids`` that hold a socket on any process, with when that socket connected."""

    async def close(self) -> None:
        """Let go of connections; the registry is not used afterwards."""


class LocalRegistry:
    """One process: the registry is a dict, and a claim can never lapse."""

    def __init__(self) -> None:
        self._claims: dict[int, Claim] = {}

    async def claim(self, claim: Claim) -> str | None:
        previous = self._claims.get(claim.device_id)
        self._claims[claim.device_id] = claim
        return None if previous is None else previous.sid

    async def release(self, claim: Claim) -> bool:
        if self._claims.get(claim.device_id) != claim:
            return False
        del self._claims[claim.device_id]
        return True

    async def renew(self, claims: Sequence[Claim]) -> set[str]:
        return {c.sid for c in claims if self._claims.get(c.device_id, c) != c}

    async def connected(self, device_ids: Collection[int]) -> dict[int, datetime]:
        return {d: self._claims[d].since for d in device_ids if d in self._claims}

    async def close(self) -> None:
        self._claims.clear()


# Delete the lease only if it still names this socket: a device that reconnected elsewhere keeps its new one.
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""

# Extend each lease this process holds, take back one that lapsed while its socket lived, and report the
# sockets whose device another socket has claimed since (the remote disconnect may have been missed).
_RENEW = """
local replaced = {}
for i, key in ipairs(KEYS) do
  local mine = ARGV[i + 1]
  local held = redis.call('get', key)
  if held == false or held == mine then
    redis.call('set', key, mine, 'px', ARGV[1])
  else
    table.insert(replaced, mine)
  end
end
return replaced
"""


class RedisRegistry:
    """Every process: per-device lease keys in Redis, each expiring unless its process renews it."""

    def __init__(self, url: str, *, lease_s: float) -> None:
        self._redis = redis.Redis.from_url(url, decode_responses=True)
        self._lease_ms = max(1, round(lease_s * 1000))
        self._release = self._redis.register_script(_RELEASE)
        self._renew = self._redis.register_script(_RENEW)

    @staticmethod
    def _key(device_id: int) -> str:
        return f"{KEY_PREFIX}{device_id}"

    @staticmethod
    def _value(claim: Claim) -> str:
        return f"{claim.sid} {claim.since.isoformat()}"  # sids are url-safe base64: no spaces

    async def claim(self, claim: Claim) -> str | None:
        previous = await self._redis.set(self._key(claim.device_id), self._value(claim), px=self._lease_ms,
                                         get=True)
        return previous.split(" ", 1)[0] if isinstance(previous, str) else None

    async def release(self, claim: Claim) -> bool:
        return bool(await self._release(keys=[self._key(claim.device_id)], args=[self._value(claim)]))

    async def renew(self, claims: Sequence[Claim]) -> set[str]:
        if not claims:
            return set()
        replaced = await self._renew(keys=[self._key(c.device_id) for c in claims],
                                     args=[self._lease_ms, *(self._value(c) for c in claims)])
        return {value.split(" ", 1)[0] for value in replaced}

    async def connected(self, device_ids: Collection[int]) -> dict[int, datetime]:
        ids = list(device_ids)
        if not ids:
            return {}
        held = await self._redis.mget([self._key(d) for d in ids])
        return {d: datetime.fromisoformat(value.split(" ", 1)[1])
                for d, value in zip(ids, held, strict=True) if isinstance(value, str)}

    async def close(self) -> None:
        await self._redis.aclose()


def make_registry(redis_url: str | None, *, sweep_interval_s: float) -> Registry:
    """Redis when the server runs as several processes, memory otherwise."""
    if redis_url is None:
        return LocalRegistry()
    return RedisRegistry(redis_url, lease_s=LEASE_SWEEPS * sweep_interval_s)
