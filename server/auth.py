"""Turns a device token into the device and user it stands for, or refuses it.

Every REST request and every socket handshake asks, so the look-ups are shared: callers waiting at the same
moment are answered by one query (``WHERE token_hash IN (…)``, device and user joined) instead of two round
trips each. A reconnect storm of thousands of agents then costs a few queries, not a queue of thousands at
the database pool. Nothing is cached between queries, so a device revoked by another process (the admin
CLI) is refused from its very next request or handshake, and so is a device still pending approval (403
``device_pending``): REST and the socket handshake both ask here, so a pending device uploads nothing and joins
no room.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from protocol.schema import Role
from server import security
from server.coalesce import Batcher
from server.errors import Forbidden, Unauthorized
from server.models import Device, User

#: Callers (so tokens) answered by one query at most: far below SQLite's and PostgreSQL's limits on bound
#: parameters.
BATCH = 500


@dataclasses.dataclass(frozen=True)
class Principal:
    """The caller. Both rows were read outside the request's session: read them, never change them."""

    device: Device
    user: User

    @property
    def is_manager(self) -> bool:
        return self.user.role in (Role.MANAGER, Role.ADMIN)


class Authenticator:
    """Answers ``principal(token)``, batching the look-ups of every caller that asks while a query runs."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        #: token digest → the device and user it stands for, or ``None``; one query per pass
        self._lookup: Batcher[str, Principal | None] = Batcher(self._load, name="token-lookup", max_batch=BATCH)

    async def principal(self, token: str | None) -> Principal:
        if not token:
            raise Unauthorized("missing token: send 'Authorization: Bearer <token>'")
        found = await self._lookup(security.digest(token))
        if found is None or not security.matches(token, found.device.token_hash):
            raise Unauthorized("unknown token: enroll this device again")
        if found.device.revoked_at is not None:
            raise Unauthorized("this device was revoked: enroll it again", code="revoked")
        if found.device.pending:
            # 403, not 401: the token is good and must be kept; it works once an admin approves the device.
            raise Forbidden(f"this device is waiting for an admin's approval (staffpulse-server devices approve "
                            f"{found.device.id})", code="device_pending")
        return found

    async def _load(self, digests: list[str]) -> Sequence[Principal | None]:
        """One query for a pass's tokens (callers presenting the same token share its row)."""
        async with self.sessions() as session:
            rows = (await session.execute(select(Device, User).join(User, User.id == Device.user_id)
                                          .where(Device.token_hash.in_(sorted(set(digests)))))).all()
        found = {device.token_hash: Principal(device, user) for device, user in rows}
        return [found.get(digest) for digest in digests]
