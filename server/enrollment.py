"""Enrollment: a personal one-time code, or IT's deployment key plus the OS login.

Either way the answer is a fresh device and its token. The token is shown exactly once, here; the server
keeps only its digest.

A deployment key sits in HKLM, a GPO or an Intune command line, readable by every staff member, so it is not
a secret from them and must not let one become another (docs/security.md, "Deployment keys"):

- it never enrolls a manager or an admin: they enroll with a personal code;
- a login that already has an active device gets another one through the key only as *pending*: it uploads
  nothing and joins no room until an admin runs ``devices approve`` (unless the team's ``key_adds_devices``
  allows it); the first device of a login enrolls directly, which is the point of a silent install;
- "login unknown" and "login in another team" get the same answer, so the key does not enumerate logins;
- a login it creates (``allow_create``) is normalised, free of invisible and control characters, and no
  lookalike of a login already in the team (``server.logins``).

Every new active device is announced to the user's other devices (``server.announce``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from protocol.schema import Enrollment, EnrollmentResult, Role, RosterChangeKind, UserPublic
from server import logins, roster, security
from server.errors import ApiError, Forbidden, Invalid, Unauthorized
from server.models import DeploymentKey, Device, EnrolledVia, EnrollmentCode, Team, User

#: The one answer for a login a key may not enroll, whether unknown or of another team.
NOT_ON_ROSTER = "this login is not on the roster of the deployment key's team"


def public_user(user: User) -> UserPublic:
    return UserPublic(id=user.id, name=user.name, login=user.login, role=Role(user.role), team_id=user.team_id,
                      time_zone=user.time_zone)


async def _user_by_code(session: AsyncSession, code: str, now: datetime, code_secret: bytes) -> User:
    row = await session.scalar(select(EnrollmentCode).where(
        EnrollmentCode.code_hash == security.code_digest(code, code_secret)))
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


async def _key(session: AsyncSession, key: str) -> DeploymentKey:
    row = await session.scalar(select(DeploymentKey).where(DeploymentKey.key_hash == security.digest(key)))
    if row is None or not security.matches(key, row.key_hash) or row.revoked_at is not None:
        raise Unauthorized("unknown or revoked deployment key", field="deployment_key", code="bad_key")
    return row


async def _new_member(session: AsyncSession, team_id: int, login: str, now: datetime) -> User:
    """A login the key may add to its team, once it is no lookalike of one already there."""
    shape = logins.skeleton(login)
    for existing in await session.scalars(select(User.login).where(User.team_id == team_id)):
        if logins.skeleton(existing) == shape:
            raise Invalid(f"login: looks like {existing!r}, a login already in the team; ask an admin",
                          field="login", code="login_lookalike")
    user = User(team_id=team_id, name=login.rsplit("\\", 1)[-1].split("@", 1)[0], login=login,
                role=Role.MEMBER, time_zone="UTC", created_at=now)
    session.add(user)
    await session.flush()
    roster.note(session, user, RosterChangeKind.JOINED, now)
    return user


async def _user_by_key(session: AsyncSession, key: DeploymentKey, raw_login: str, now: datetime) -> User:
    login = logins.normalise_login(raw_login)
    if (problem := logins.login_problem(login)) is not None:
        raise Invalid(f"login: {problem}", field="login")
    user = await session.scalar(select(User).where(User.login == login))
    if user is None and key.allow_create:
        return await _new_member(session, key.team_id, login, now)
    if user is None or user.team_id != key.team_id:
        raise Forbidden(NOT_ON_ROSTER, field="login", code="not_on_roster")
    if user.role != Role.MEMBER:
        raise Forbidden("managers and admins enroll with a personal one-time code (staffpulse-server users code), "
                        "not a deployment key", field="login", code="personal_code_required")
    return user


async def _needs_approval(session: AsyncSession, user: User) -> bool:
    """A key's device for a login that already has an active one waits for an admin, unless the team allows."""
    active = await session.scalar(select(func.count()).select_from(Device).where(
        Device.user_id == user.id, Device.revoked_at.is_(None), Device.pending.is_(False)))
    if not active:
        return False
    team = await session.get(Team, user.team_id)
    assert team is not None
    return not team.key_adds_devices


async def _replace_pending(session: AsyncSession, user: User, now: datetime) -> None:
    """At most one device per user waits for approval: a new pending one denies (revokes) the older ones, so a
    key holder cannot pile up pending devices in a colleague's name for an admin to approve by mistake. They
    stay in ``devices list`` as revoked, so what happened is visible."""
    await session.execute(update(Device).where(
        Device.user_id == user.id, Device.pending.is_(True), Device.revoked_at.is_(None)).values(revoked_at=now))


async def enroll(session: AsyncSession, request: Enrollment, now: datetime, *, code_secret: bytes,
                 key_failed: Callable[[int], None]) -> EnrollmentResult:
    """A new device and its token. ``key_failed(key_id)`` is called when a valid deployment key's attempt
    fails (the per-key budget, ``server.limits.EnrollmentLimit``); it may raise to answer in its place."""
    key: DeploymentKey | None = None
    if request.code is not None:
        user = await _user_by_code(session, request.code, now, code_secret)
        pending = False
    else:
        assert request.deployment_key is not None and request.login is not None
        key = await _key(session, request.deployment_key)
        try:
            user = await _user_by_key(session, key, request.login, now)
        except ApiError:
            key_failed(key.id)
            raise
        pending = await _needs_approval(session, user)
        if pending:
            await _replace_pending(session, user, now)
    token = security.new_token()
    device = Device(user_id=user.id, name=request.device_name, platform=request.platform,
                    agent_version=request.agent_version, token_hash=security.digest(token), created_at=now,
                    pending=pending, enrolled_via=EnrolledVia.KEY if key else EnrolledVia.CODE,
                    deployment_key_id=key.id if key else None)
    session.add(device)
    await session.flush()
    return EnrollmentResult(device_id=device.id, token=token, user=public_user(user),
                            status="pending" if pending else "active")
