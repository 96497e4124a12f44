"""Roster and credential administration, as keyword-only data functions over a session.

The CLI (``server.cli``) and the demo seeding call these; tests call them to set up teams directly. Each
returns plain dicts so the CLI can print them as a table or as JSON. Bad input raises ``AdminError``
(``server.errors``) naming the field; nothing is written in that case.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from protocol.defaults import IDLE_THRESHOLD_S, INTERVAL_RANGE_S, SYNC_INTERVAL_S
from protocol.roles import Role, RosterChangeKind
from protocol.text import first_control
from server import roster, security
from server.errors import AdminError
from server.logins import login_problem, normalise_login
from server.models import DeploymentKey, Device, DeviceStatus, EnrollmentCode, Team, User


async def _code_secret(session: AsyncSession) -> bytes:
    """The code secret of the database this session writes to: the one the server reads (``server.security``)."""
    bind = session.bind
    assert isinstance(bind, AsyncEngine)  # as server.migrate.run_in_session and the server make sessions
    try:
        return await security.checked_code_secret(session, bind.url.render_as_string(hide_password=False))
    except security.CodeSecretMismatch as exc:
        raise AdminError(str(exc)) from None


def _printable(field: str, value: str) -> None:
    """Refuse a name or login holding control or format characters (``protocol.text``): it would reach
    terminals (``devices list``) and teammates' windows as escape sequences or reversed text."""
    if (found := first_control(value)) is not None:
        raise AdminError(f"{field}: must not contain control or format characters (found {found})")


def _check_role(role: str) -> None:
    if role not in {r.value for r in Role}:
        raise AdminError(f"role: must be one of {', '.join(r.value for r in Role)}, not {role!r}")


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


async def _team(session: AsyncSession, name: str) -> Team:
    team = await session.scalar(select(Team).where(Team.name == name))
    if team is None:
        raise AdminError(f"team: no team named {name!r}")
    return team


async def _user(session: AsyncSession, login: str) -> User:
    user = await session.scalar(select(User).where(User.login == normalise_login(login)))
    if user is None:
        raise AdminError(f"login: no user with login {login!r}")
    return user


def team_dict(team: Team) -> dict[str, Any]:
    return {"id": team.id, "name": team.name, "idle_threshold_s": team.idle_threshold_s,
            "sync_interval_s": team.sync_interval_s, "pause_allowed": team.pause_allowed,
            "key_adds_devices": team.key_adds_devices, "keep_day_totals": team.keep_day_totals}


async def create_team(session: AsyncSession, *, name: str, now: datetime, idle_threshold_s: int = IDLE_THRESHOLD_S,
                      sync_interval_s: int = SYNC_INTERVAL_S, pause_allowed: bool = False,
                      key_adds_devices: bool = False) -> dict[str, Any]:
    if not name.strip():
        raise AdminError("name: a team needs a name")
    _printable("name", name)
    low, high = INTERVAL_RANGE_S
    if not low <= idle_threshold_s <= high:
        raise AdminError(f"idle-threshold: must be between {low} and {high} seconds")
    if not low <= sync_interval_s <= high:
        raise AdminError(f"sync-interval: must be between {low} and {high} seconds")
    if await session.scalar(select(Team).where(Team.name == name)) is not None:
        raise AdminError(f"name: a team named {name!r} already exists")
    team = Team(name=name, idle_threshold_s=idle_threshold_s, sync_interval_s=sync_interval_s,
                pause_allowed=pause_allowed, key_adds_devices=key_adds_devices, created_at=now)
    session.add(team)
    await session.flush()
    return team_dict(team)


async def set_team(session: AsyncSession, *, name: str, key_adds_devices: bool | None = None,
                   idle_threshold_s: int | None = None, sync_interval_s: int | None = None,
                   pause_allowed: bool | None = None, keep_day_totals: bool | None = None) -> dict[str, Any]:
    """Change a team's enrollment setting, tracking policy or retention choice; ``None`` leaves a field as it is.
    Agents apply a changed policy when they next read ``/me`` (at their next connect)."""
    low, high = INTERVAL_RANGE_S
    for flag, seconds in (("idle-threshold", idle_threshold_s), ("sync-interval", sync_interval_s)):
        if seconds is not None and not low <= seconds <= high:
            raise AdminError(f"{flag}: must be between {low} and {high} seconds")
    team = await _team(session, name)
    for field, value in (("key_adds_devices", key_adds_devices), ("idle_threshold_s", idle_threshold_s),
                         ("sync_interval_s", sync_interval_s), ("pause_allowed", pause_allowed),
                         ("keep_day_totals", keep_day_totals)):
        if value is not None:
            setattr(team, field, value)
    await session.flush()
    return team_dict(team)


async def list_teams(session: AsyncSession) -> list[dict[str, Any]]:
    return [team_dict(t) for t in await session.scalars(select(Team).order_by(Team.name))]


def user_dict(user: User, team: Team) -> dict[str, Any]:
    return {"id": user.id, "login": user.login, "name": user.name, "role": user.role, "team": team.name,
            "time_zone": user.time_zone}


async def create_user(session: AsyncSession, *, team: str, login: str, name: str, now: datetime,
                      role: str = Role.MEMBER, time_zone: str = "UTC") -> dict[str, Any]:
    _check_role(role)
    try:
        ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise AdminError(f"time-zone: {time_zone!r} is not an IANA time zone (e.g. Europe/Berlin)") from None
    _printable("login", login)
    login = normalise_login(login)
    if (problem := login_problem(login)) is not None:
        raise AdminError(f"login: {problem}")
    if not name.strip():
        raise AdminError("name: must not be empty")
    _printable("name", name)
    if await session.scalar(select(User).where(User.login == login)) is not None:
        raise AdminError(f"login: a user with login {login!r} already exists")
    team_row = await _team(session, team)
    user = User(team_id=team_row.id, login=login, name=name, role=role, time_zone=time_zone, created_at=now)
    session.add(user)
    await session.flush()
    roster.note(session, user, RosterChangeKind.JOINED, now)
    return user_dict(user, team_row)


async def rename_user(session: AsyncSession, *, login: str, now: datetime, name: str | None = None,
                      role: str | None = None) -> dict[str, Any]:
    """Change a user's display name or role; the team's open windows follow within a sweep interval."""
    if role is not None:
        _check_role(role)
    if name is not None:
        if not name.strip():
            raise AdminError("name: must not be empty")
        _printable("name", name)
    user = await _user(session, login)
    if (name is None or name == user.name) and (role is None or role == user.role):
        raise AdminError("nothing to change: give a new --name or --role")
    user.name, user.role = name or user.name, role or user.role
    await session.flush()
    roster.note(session, user, RosterChangeKind.RENAMED, now)
    return user_dict(user, await session.get_one(Team, user.team_id))


async def list_users(session: AsyncSession, *, team: str | None = None) -> list[dict[str, Any]]:
    query = select(User, Team).join(Team, Team.id == User.team_id).order_by(Team.name, User.login)
    if team is not None:
        query = query.where(Team.id == (await _team(session, team)).id)
    return [user_dict(u, t) for u, t in await session.execute(query)]


async def issue_code(session: AsyncSession, *, login: str, now: datetime, valid_hours: int = 72) -> dict[str, Any]:
    if not 1 <= valid_hours <= 24 * 30:
        raise AdminError("valid-hours: must be between 1 and 720")
    user = await _user(session, login)
    code = security.new_enrollment_code()
    expires = now + timedelta(hours=valid_hours)
    session.add(EnrollmentCode(user_id=user.id, code_hash=security.code_digest(code, await _code_secret(session)),
                               expires_at=expires))
    await session.flush()
    return {"login": user.login, "code": code, "expires_at": _iso(expires)}


async def create_key(session: AsyncSession, *, team: str, name: str, now: datetime,
                     allow_create: bool = False) -> dict[str, Any]:
    _printable("name", name)
    team_row = await _team(session, team)
    key = security.new_deployment_key()
    row = DeploymentKey(team_id=team_row.id, name=name, key_hash=security.digest(key), allow_create=allow_create,
                        created_at=now)
    session.add(row)
    await session.flush()
    return {"id": row.id, "team": team_row.name, "name": name, "key": key, "allow_create": allow_create}


async def list_keys(session: AsyncSession) -> list[dict[str, Any]]:
    rows = await session.execute(select(DeploymentKey, Team).join(Team).order_by(DeploymentKey.id))
    return [{"id": k.id, "team": t.name, "name": k.name, "allow_create": k.allow_create,
             "revoked_at": _iso(k.revoked_at)} for k, t in rows]


async def revoke_key(session: AsyncSession, *, key_id: int, now: datetime) -> dict[str, Any]:
    key = await session.get(DeploymentKey, key_id)
    if key is None:
        raise AdminError(f"id: no deployment key {key_id}")
    key.revoked_at = key.revoked_at or now
    return {"id": key.id, "revoked_at": _iso(key.revoked_at)}


async def list_devices(session: AsyncSession, *, login: str | None = None) -> list[dict[str, Any]]:
    """Every device with its status and how and when it was enrolled (``key:<id> <name>`` for a key)."""
    query = (select(Device, User, DeploymentKey).join(User, User.id == Device.user_id)
             .outerjoin(DeploymentKey, DeploymentKey.id == Device.deployment_key_id).order_by(Device.id))
    if login is not None:
        query = query.where(User.id == (await _user(session, login)).id)
    return [{"id": d.id, "login": u.login, "name": d.name, "platform": d.platform,
             "agent_version": d.agent_version, "status": d.status.value,
             "enrolled_via": f"key:{k.id} {k.name}" if k is not None else d.enrolled_via,
             "enrolled_at": _iso(d.created_at), "approved_at": _iso(d.approved_at), "last_seen": _iso(d.last_seen),
             "revoked_at": _iso(d.revoked_at)}
            for d, u, k in await session.execute(query)]


async def revoke_device(session: AsyncSession, *, device_id: int, now: datetime) -> dict[str, Any]:
    """Revoked devices get 401 at once; a running server drops their socket within a sweep interval."""
    device = await session.get(Device, device_id)
    if device is None:
        raise AdminError(f"id: no device {device_id}")
    device.revoked_at = device.revoked_at or now
    return {"id": device.id, "status": device.status.value, "revoked_at": _iso(device.revoked_at)}


async def _pending_device(session: AsyncSession, device_id: int) -> Device:
    device = await session.get(Device, device_id)
    if device is None:
        raise AdminError(f"id: no device {device_id}")
    if device.status is not DeviceStatus.PENDING:
        raise AdminError(f"id: device {device_id} is {device.status.value}, not pending approval")
    return device


async def approve_device(session: AsyncSession, *, device_id: int, now: datetime) -> dict[str, Any]:
    """A pending device becomes active: its next upload is accepted, its next connect joins its rooms, and the
    user's other devices are told (``device-enrolled``) by the running server within a sweep interval."""
    device = await _pending_device(session, device_id)
    device.pending, device.approved_at = False, now
    return {"id": device.id, "status": device.status.value, "approved_at": _iso(device.approved_at)}


async def deny_device(session: AsyncSession, *, device_id: int, now: datetime) -> dict[str, Any]:
    """A pending device is revoked: its token is refused from then on (401 ``revoked``)."""
    device = await _pending_device(session, device_id)
    device.revoked_at = now
    return {"id": device.id, "status": device.status.value, "revoked_at": _iso(device.revoked_at)}
