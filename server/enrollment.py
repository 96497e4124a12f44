"""Enrollment: a personal one-time code, or IT's deployment key plus the OS login.

Either way the answer is a fresh device and its token. The token is shown exactly once, here; the server
keeps only its digest.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from protocol.schema import Enrollment, EnrollmentResult, Role, UserPublic
from server import security
from server.errors import Forbidden, Unauthorized
from server.models import DeploymentKey, Device, EnrollmentCode, Team, User


def public_user(user: User) -> UserPublic:
    return UserPublic(id=user.id, name=user.name, login=user.login, role=Role(user.role), team_id=user.team_id,
                      time_zone=user.time_zone)


def normalise_login(login: str) -> str:
    return login.strip().lower()


async def _user_by_code(session: AsyncSession, code: str, now: datetime) -> User:
    row = await session.scalar(select(EnrollmentCode).where(
        EnrollmentCode.code_hash == security.digest(security.normalise_code(code))))
    if row is None:
        raise Unauthorized("unknown enrollment code", field="code", code="bad_code")
    if row.used_at is not None:
        raise Unauthorized("this enrollment code was already used; ask for a new one", field="code",
                           code="code_used")
    if row.expires_at <= now:
        raise Unauthorized("this enrollment code has expired; ask for a new one", field="code",
                           code="code_expired")
    # Claim the code atomically: of two enrollments racing with one code, exactly one wins.
    claimed = await session.execute(update(EnrollmentCode).where(
        EnrollmentCode.id == row.id, EnrollmentCode.used_at.is_(None)).values(used_at=now))
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise Unauthorized("this enrollment code was already used; ask for a new one", field="code",
                           code="code_used")
    user = await session.get(User, row.user_id)
    assert user is not None
    return user


async def _user_by_key(session: AsyncSession, key: str, login: str, now: datetime) -> User:
    row = await session.scalar(select(DeploymentKey).where(DeploymentKey.key_hash == security.digest(key)))
    if row is None or not security.matches(key, row.key_hash) or row.revoked_at is not None:
        raise Unauthorized("unknown or revoked deployment key", field="deployment_key", code="bad_key")
    login = normalise_login(login)
    user = await session.scalar(select(User).where(User.login == login))
    if user is not None:
        if user.team_id != row.team_id:
            raise Forbidden("this login belongs to another team than the deployment key", field="login")
        return user
    if not row.allow_create:
        raise Forbidden("this login is not on the roster and the deployment key may not add users",
                        field="login", code="not_on_roster")
    team = await session.get(Team, row.team_id)
    assert team is not None
    user = User(team_id=team.id, name=login.rsplit("\\", 1)[-1].split("@", 1)[0], login=login,
                role=Role.MEMBER, time_zone="UTC", created_at=now)
    session.add(user)
    await session.flush()
    return user


async def enroll(session: AsyncSession, request: Enrollment, now: datetime) -> EnrollmentResult:
    if request.code is not None:
        user = await _user_by_code(session, request.code, now)
    else:
        assert request.deployment_key is not None and request.login is not None
        user = await _user_by_key(session, request.deployment_key, request.login, now)
    token = security.new_token()
    device = Device(user_id=user.id, name=request.device_name, platform=request.platform,
                    agent_version=request.agent_version, token_hash=security.digest(token), created_at=now)
    session.add(device)
    await session.flush()
    return EnrollmentResult(device_id=device.id, token=token, user=public_user(user))
