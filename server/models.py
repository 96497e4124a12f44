"""The database tables. Times are stored as UTC (``UtcDateTime``) and come back timezone-aware.

Slots are keyed by (device, start): that key is what makes ingest idempotent even when an agent sends the
same minute in two different batches. ``Batch`` remembers each batch id so a retried batch gets the same
answer.
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from protocol.defaults import IDLE_THRESHOLD_S, SYNC_INTERVAL_S


class UtcDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as naive UTC (SQLite has no zones) and returns them aware again."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Team(Base):
    __tablename__ = "teams"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    idle_threshold_s: Mapped[int] = mapped_column(Integer, default=IDLE_THRESHOLD_S)
    sync_interval_s: Mapped[int] = mapped_column(Integer, default=SYNC_INTERVAL_S)
    pause_allowed: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Whether a deployment key may give a login that already has an active device another one without an
    #: admin's approval (``devices approve``). Off: the careful default, see docs/security.md.
    key_adds_devices: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Whether a member's local day is kept as one row of totals (``UserDay``) once its minutes are past the
    #: retention window (``teams set --keep-day-totals``). Off: past the window nothing of the day is left.
    keep_day_totals: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    #: Lower-cased e-mail, ``domain\\user`` or UPN; unique across the server.
    login: Mapped[str] = mapped_column(String(200), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    time_zone: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class RosterChange(Base):
    """A change of a team's roster (a member joined, left or was renamed) still to be told to the team's
    sockets: written in the transaction that made it, by whichever process (the admin CLI has no sockets),
    claimed and announced by the servers' announce pass (``server.roster``). Name and role as they were then,
    so the row says all the event does. ``user_id`` has no foreign key: a member who left may be gone."""

    __tablename__ = "roster_changes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    user_id: Mapped[int] = mapped_column(Integer)
    change: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    announced_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True, index=True)


class ServerSetting(Base):
    """What the running server was started with that other processes must agree with, one row: ``serve``
    writes its ``--retention-days`` at every start, and ``staffpulse-server report`` reads it, so a report shows
    the window the server keeps (``server.server_settings``)."""

    __tablename__ = "server_settings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    retention_days: Mapped[int] = mapped_column(Integer)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)


class EnrollmentCode(Base):
    __tablename__ = "enrollment_codes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class DeploymentKey(Base):
    __tablename__ = "deployment_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: Whether an unknown login enrolling with this key becomes a new member of the key's team.
    allow_create: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class DeviceStatus(enum.StrEnum):
    """Derived from a device's row (``Device.status``): revoked wins, then pending approval."""

    ACTIVE = "active"
    PENDING = "pending"
    REVOKED = "revoked"


class EnrolledVia(enum.StrEnum):
    CODE = "code"
    KEY = "key"
    #: Enrolled before the server recorded how (migration 0002).
    LEGACY = "legacy"


class CodeSecretCheck(Base):
    """One row: an HMAC of a fixed text under the enrollment-code secret, written by the first process that used
    the secret with this database. A process holding another secret file (another OS account's data dir, a
    second host) would issue codes no server can match; it is stopped with the file named instead
    (``server.security.checked_code_secret``)."""

    __tablename__ = "code_secret_check"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    verifier: Mapped[str] = mapped_column(String(64))


class Device(Base):
    __tablename__ = "devices"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    platform: Mapped[str] = mapped_column(String(40))
    agent_version: Mapped[str] = mapped_column(String(40))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    #: A deployment key's extra device for a login that already had one waits for ``devices approve``: it
    #: uploads nothing and joins no room until then.
    pending: Mapped[bool] = mapped_column(Boolean, default=False)
    approved_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    #: How it was enrolled (``EnrolledVia``); rows made other than by enrollment (migration 0002, seeded
    #: benchmarks) are ``legacy``.
    enrolled_via: Mapped[str] = mapped_column(String(10), default=EnrolledVia.LEGACY)
    #: The key that enrolled it (``enrolled_via == "key"``). No foreign key: see migration 0002 (keys are
    #: revoked, never deleted).
    deployment_key_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: When the user's other devices were told of it (``device-enrolled``); NULL: still to tell, once active.
    announced_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True, index=True)

    @property
    def status(self) -> DeviceStatus:
        if self.revoked_at is not None:
            return DeviceStatus.REVOKED
        return DeviceStatus.PENDING if self.pending else DeviceStatus.ACTIVE


class DevicePresence(Base):
    """The last state a device reported; ``seq`` orders reports from one device."""

    __tablename__ = "device_presence"
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"), primary_key=True)
    state: Mapped[str] = mapped_column(String(20))
    since: Mapped[datetime] = mapped_column(UtcDateTime)
    seq: Mapped[int] = mapped_column(BigInteger)


class UserPresence(Base):
    """The state last shown to the team, so a change is broadcast once and survives a restart."""

    __tablename__ = "user_presence"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    state: Mapped[str] = mapped_column(String(20))
    since: Mapped[datetime] = mapped_column(UtcDateTime)


class Batch(Base):
    __tablename__ = "batches"
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"), primary_key=True)
    batch_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    #: SHA-256 of the batch's slots: the same id with other content is a client bug, refused with 409.
    digest: Mapped[str] = mapped_column(String(64))
    accepted: Mapped[int] = mapped_column(Integer)
    duplicates: Mapped[int] = mapped_column(Integer)
    #: Indexed for the retention pass, which deletes batch ids older than the window (``server.retention``).
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class SlotSums:
    """The seconds and counts of a minute (``protocol.schema.Slot``), and of a day summed from its minutes."""

    tracked_s: Mapped[int] = mapped_column(Integer)
    active_s: Mapped[int] = mapped_column(Integer)
    idle_s: Mapped[int] = mapped_column(Integer)
    break_s: Mapped[int] = mapped_column(Integer)
    input_s: Mapped[int] = mapped_column(Integer)
    keys: Mapped[int] = mapped_column(Integer)
    clicks: Mapped[int] = mapped_column(Integer)
    scrolls: Mapped[int] = mapped_column(Integer)
    mouse_px: Mapped[int] = mapped_column(BigInteger)


class ActivitySlot(SlotSums, Base):
    __tablename__ = "activity_slots"
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"), primary_key=True)
    start: Mapped[datetime] = mapped_column(UtcDateTime, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    __table_args__ = (Index("ix_activity_slots_user_start", "user_id", "start"),)


class UserDay(SlotSums, Base):
    """One member's local day summed from its merged minutes (``server.days``): what the history ranges read
    instead of the minutes while it is fresh, and what is left of the day once its minutes are past the
    retention window, for a team that keeps day totals.

    ``time_zone`` is the zone the day was cut in: a user who moves zones later keeps the days as they were
    lived. ``hours`` is a JSON list of ``protocol.schema.HourProfile``, one per local hour (23 or 25 on DST days).
    """

    __tablename__ = "user_days"
    #: The summariser's pass reads the stale rows of the retention window's days (``server.summariser``).
    __table_args__ = (Index("ix_user_days_day", "day"),)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    time_zone: Mapped[str] = mapped_column(String(64))
    activity_pct: Mapped[float] = mapped_column(Float)
    first_activity: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_activity: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    hours: Mapped[str] = mapped_column(Text)
    #: Bumped by ingest whenever minutes of the day are stored (``server.days.touch``).
    version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: The ``version`` the sums above were read at; the row is used only while the two are equal (NULL: never).
    summarised: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: When the sums were read (NULL: never, or before 0006): a stale row this recent may still be served.
    summarised_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
