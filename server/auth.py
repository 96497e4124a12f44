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

import asyncio
import dataclasses

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from protocol.schema import Role
from server import security
from server.errors import Forbidden, Unauthorized
from server.models import Device, User

#: Tokens asked for in one query at most: far below SQLite's and PostgreSQL's limits on bound parameters.
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
        #: digest → the callers waiting for it
        self._waiting: dict[str, list[asyncio.Future[Principal | None]]] = {}
        self._loader: asyncio.Task[None] | None = None

    async def principal(self, token: str | None) -> Principal:
        if not token:
            raise Unauthorized("missing token: send 'Authorization: Bearer <token>'")
        token_digest = security.digest(token)
        answer: asyncio.Future[Principal | None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(token_digest, []).append(answer)
        if self._loader is None or self._loader.done():
            self._loader = asyncio.create_task(self._load(), name="token-lookup")
        found = await answer
        if found is None or not security.matches(token, found.device.token_hash):
            raise Unauthorized("unknown token: enroll this device again")
        if found.device.revoked_at is not None:
            raise Unauthorized("this device was revoked: enroll it again", code="revoked")
        if found.device.pending:
            # 403, not 401: the token is good and must be kept; it works once an admin approves the device.
            raise Forbidden(f"this device is waiting for an admin's approval (staffpulse-server devices approve "
                            f"{found.device.id})", code="device_pending")
        return found

    async def _load(self) -> None:
        """Answer everyone waiting, one query per pass; callers arriving during a query wait for the next."""
        while self._waiting:
            digests = list(self._waiting)[:BATCH]
            waiting = {digest: self._waiting.pop(digest) for digest in digests}
            try:
                async with self.sessions() as session:
                    rows = (await session.execute(select(Device, User).join(User, User.id == Device.user_id)
                                                  .where(Device.token_hash.in_(digests)))).all()
            except BaseException as exc:  # the database is down or busy: each caller gets the error to answer
                for answers in waiting.values():
                    for answer in answers:
                        if not answer.done():
                            answer.set_exception(exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise
                continue
            found = {device.token_hash: Principal(device, user) for device, user in rows}
            for digest, answers in waiting.items():
                for answer in answers:
                    if not answer.done():  # a caller that gave up (client gone) is skipped
                        answer.set_result(found.get(digest))
