"""Turns a device token into the device and user it stands for, or refuses it."""

from __future__ import annotations

import dataclasses

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from protocol.schema import Role
from server import security
from server.errors import Unauthorized
from server.models import Device, User


@dataclasses.dataclass(frozen=True)
class Principal:
    device: Device
    user: User

    @property
    def is_manager(self) -> bool:
        return self.user.role in (Role.MANAGER, Role.ADMIN)


async def authenticate(session: AsyncSession, token: str | None) -> Principal:
    if not token:
        raise Unauthorized("missing token: send 'Authorization: Bearer <token>'")
    token_digest = security.digest(token)
    device = await session.scalar(select(Device).where(Device.token_hash == token_digest))
    if device is None or not security.matches(token, device.token_hash):
        raise Unauthorized("unknown token: enroll this device again")
    if device.revoked_at is not None:
        raise Unauthorized("this device was revoked: enroll it again", code="revoked")
    user = await session.get(User, device.user_id)
    if user is None:  # the foreign key makes this impossible short of manual database edits
        raise Unauthorized("token belongs to no user")
    return Principal(device, user)
