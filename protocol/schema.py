"""Every payload that crosses the wire, defined once for the server and the agent.

The agent builds these models before it sends and the server validates with the same models, so a slot the
agent considers valid is a slot the server accepts. docs/protocol.md describes the same shapes in prose; when
the two disagree this module is right and the doc is a bug.

Conventions: timestamps are timezone-aware and serialised as UTC ISO-8601. Requests refuse unknown fields
(``_Model``); answers ignore them (``_Answer``), so the server can add fields without breaking older agents.
"""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from protocol.roles import Role as Role  # re-exported: the wire models carry it
from protocol.roles import RosterChangeKind as RosterChangeKind
from protocol.text import first_control

SLOT_SECONDS = 60
MAX_SLOTS_PER_BATCH = 500
#: Error codes refusing some minutes of a batch, each naming one minute in its ``field`` (``slots[i]…``), so the
#: agent can deal with those and send the rest (docs/protocol.md, sync.uploader): minutes recorded before the
#: device was enrolled (the latest is named; it and every earlier one are refused), minutes not begun yet by the
#: server's clock (the earliest is named; it and every later one wait), and a minute that would take the user's
#: sum of a count over its bound (that minute alone).
BEFORE_ENROLLMENT = "before_enrollment"
NOT_BEGUN = "not_begun"
MINUTE_FULL = "minute_full"

#: The most of each input count one minute can hold, for one device and for the sum of a user's devices
#: (docs/protocol.md, "Bounds"): what people and hardware can produce, with margin, so a true minute is never
#: refused and a made-up one cannot add millions. The agent clamps to these before it sends.
MAX_KEYS_PER_MINUTE = 6_000  # 100/s: twice the fastest common key repeat (50/s); record typing is ~2,000/min
MAX_CLICKS_PER_MINUTE = 6_000  # 100/s: above drag-clicking records (~50/s); hands reach ~15/s
MAX_SCROLLS_PER_MINUTE = 120_000  # 2,000/s: twice a free-spinning wheel's ~1,000 lines/s; touchpads emit less
MAX_MOUSE_PX_PER_MINUTE = 6_000_000  # 100,000 px/s: sweeping across three 4K screens ~9 times a second
COUNT_LIMITS = {"keys": MAX_KEYS_PER_MINUTE, "clicks": MAX_CLICKS_PER_MINUTE, "scrolls": MAX_SCROLLS_PER_MINUTE,
                "mouse_px": MAX_MOUSE_PX_PER_MINUTE}


def _utc(value: datetime) -> datetime:
    """Refuse naive datetimes (their zone is a guess) and normalise the rest to UTC."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("timestamp must carry a time zone (UTC ISO-8601, e.g. 2026-01-02T03:04:00Z)")
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:00-05:00 is past year 9999 in UTC; a crash, not a refusal, without this
        raise ValueError("timestamp out of range") from None


def _minute_aligned(value: datetime) -> datetime:
    if value.second or value.microsecond:
        raise ValueError("slot start must be aligned to a UTC minute (seconds = 0)")
    return value


def _printable(value: str) -> str:
    """Refuse control and format characters (``protocol.text``): a name must not drive a terminal or a window."""
    if (found := first_control(value)) is not None:
        raise ValueError(f"must not contain control or format characters (found {found})")
    return value


def _not_a_number(value: object) -> object:
    """Pydantic would read a bare number as Unix seconds; the protocol's timestamps are ISO-8601 text only."""
    if isinstance(value, int | float):
        raise ValueError("timestamp must be an ISO-8601 string with a time zone, not a number")
    return value


UtcDatetime = Annotated[datetime, BeforeValidator(_not_a_number), AfterValidator(_utc)]
SlotStart = Annotated[datetime, BeforeValidator(_not_a_number), AfterValidator(_utc), AfterValidator(_minute_aligned)]
Seconds = Annotated[int, Field(ge=0, le=SLOT_SECONDS, strict=True)]
Text = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_printable)]
ShortText = Annotated[str, Field(min_length=1, max_length=40), AfterValidator(_printable)]


class _Model(BaseModel):
    """What a client sends: unknown fields are refused, so a typo is a 422 and not silently lost data."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class _Answer(BaseModel):
    """What the server sends: unknown fields are ignored, so an older agent keeps working with a newer server."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class PresenceState(enum.StrEnum):
    """A person's state as the team sees it, most present first (see ``PRESENCE_RANK``)."""

    ACTIVE = "active"
    BREAK = "break"
    IDLE = "idle"
    AWAY = "away"
    OFFLINE = "offline"


#: With several devices a user shows the most present one: lower rank wins.
PRESENCE_RANK = {state: rank for rank, state in enumerate(PresenceState)}

#: States an agent may report; ``offline`` is only ever concluded by the server.
ReportedState = Literal["active", "break", "idle", "away"]


# --- activity -------------------------------------------------------------------------------------------------


class Slot(_Model):
    """One UTC minute of one device: how it was spent, and how much input arrived.

    ``tracked_s`` is the part of the minute the agent was running; every tracked second is exactly one of
    active, idle or break. ``input_s`` counts the active seconds in which input actually arrived.
    """

    start: SlotStart
    tracked_s: Seconds
    active_s: Seconds
    idle_s: Seconds
    break_s: Seconds
    input_s: Seconds
    keys: Annotated[int, Field(ge=0, le=MAX_KEYS_PER_MINUTE, strict=True)]
    clicks: Annotated[int, Field(ge=0, le=MAX_CLICKS_PER_MINUTE, strict=True)]
    scrolls: Annotated[int, Field(ge=0, le=MAX_SCROLLS_PER_MINUTE, strict=True)]
    mouse_px: Annotated[int, Field(ge=0, le=MAX_MOUSE_PX_PER_MINUTE, strict=True)]

    @model_validator(mode="after")
    def _consistent(self) -> Slot:
        if self.active_s + self.idle_s + self.break_s != self.tracked_s:
            raise ValueError("active_s + idle_s + break_s must equal tracked_s")
        if self.input_s > self.active_s:
            raise ValueError("input_s must not exceed active_s")
        return self


class ActivityBatch(_Model):
    """Slots are uploaded in batches; ``batch_id`` makes a retried upload harmless."""

    batch_id: uuid.UUID
    slots: Annotated[list[Slot], Field(min_length=1, max_length=MAX_SLOTS_PER_BATCH)]

    @model_validator(mode="after")
    def _unique_starts(self) -> ActivityBatch:
        seen: set[datetime] = set()
        for index, slot in enumerate(self.slots):
            if slot.start in seen:
                raise ValueError(f"slots[{index}].start repeats a minute already in this batch")
            seen.add(slot.start)
        return self


class ActivityResult(_Answer):
    accepted: int
    duplicates: int


class Totals(_Answer):
    """Sums over a set of slots; ``activity_pct`` is input seconds as a share of active seconds."""

    tracked_s: int = 0
    active_s: int = 0
    idle_s: int = 0
    break_s: int = 0
    input_s: int = 0
    keys: int = 0
    clicks: int = 0
    scrolls: int = 0
    mouse_px: int = 0
    activity_pct: float = 0.0


class DayReport(_Answer):
    date: date
    time_zone: str
    totals: Totals
    slots: list[Slot]


# --- presence -------------------------------------------------------------------------------------------------


class PresenceUpdate(_Model):
    """A device's new state; ``seq`` grows per device so a late, older update cannot win."""

    state: ReportedState
    since: UtcDatetime
    seq: Annotated[int, Field(ge=0, le=2**63 - 1, strict=True)]  # the database's BIGINT


class PresenceAck(_Answer):
    applied: bool
    state: PresenceState
    since: datetime


class PresenceEvent(_Answer):
    """Socket event ``presence``, sent to the team room."""

    user_id: int
    name: str
    state: PresenceState
    since: datetime
    #: The last moment one of the user's devices was seen (the event's moment while one is connected), as
    #: ``TeamMember.last_seen``. Added within v1: None from an older server, and never seen.
    last_seen: datetime | None = None


class PerformanceEvent(_Answer):
    """Socket events ``performance-update`` (to the user) and ``team-performance-update`` (to managers)."""

    user_id: int
    date: date
    totals: Totals


class RosterEvent(_Answer):
    """Socket event ``roster``, sent to the team room when a member joined, left or was renamed: the team view
    follows without a re-read. Name and role only, as ``GET /team`` shows every member."""

    user_id: int
    name: str
    role: Role
    change: RosterChangeKind


# --- identity and enrollment ----------------------------------------------------------------------------------


class Enrollment(_Model):
    """Either a personal ``code``, or a ``deployment_key`` with the OS ``login`` — never both."""

    code: Annotated[str, Field(min_length=4, max_length=100)] | None = None
    deployment_key: Annotated[str, Field(min_length=8, max_length=200)] | None = None
    login: Text | None = None
    device_name: Text
    platform: ShortText
    agent_version: ShortText

    @model_validator(mode="after")
    def _one_way(self) -> Enrollment:
        if self.code is not None and (self.deployment_key is not None or self.login is not None):
            raise ValueError("give either code, or deployment_key with login, not both")
        if self.code is None and (self.deployment_key is None or self.login is None):
            raise ValueError("give either code, or deployment_key with login")
        return self


class UserPublic(_Answer):
    id: int
    name: str
    login: str
    role: Role
    team_id: int
    time_zone: str


class TeamPublic(_Answer):
    id: int
    name: str


class EnrollmentResult(_Answer):
    device_id: int
    token: str
    user: UserPublic
    #: ``pending``: a deployment key's extra device for a login that already has one; the token is good but
    #: refused (403 ``device_pending``) until an admin approves the device. Keep it and retry.
    status: Literal["active", "pending"] = "active"


class DeviceEnrolledEvent(_Answer):
    """Socket event ``device-enrolled``, sent to the user's own room when a device of theirs became active (enrolled,
    or approved by an admin), so a person notices a device they did not enroll."""

    device_id: int
    name: str
    platform: str
    #: ``code`` (a personal code) or ``key`` (a deployment key, named in ``key_name``).
    enrolled_via: str
    key_name: str | None = None
    enrolled_at: datetime
    #: When an admin approved it; None when it enrolled directly.
    approved_at: datetime | None = None


class Policy(_Answer):
    idle_threshold_s: int
    sync_interval_s: int
    pause_allowed: bool


class Me(_Answer):
    user: UserPublic
    team: TeamPublic
    device_id: int
    policy: Policy
    server_time: datetime
    #: The user's devices that became active after this one was enrolled, in the last 7 days: what
    #: ``device-enrolled`` said while this device may not have been connected.
    new_devices: list[DeviceEnrolledEvent] = []


class TeamMember(_Answer):
    user_id: int
    name: str
    role: Role
    state: PresenceState
    since: datetime | None
    last_seen: datetime | None
    totals: Totals | None = None  # present only when the reader is a manager of the team


class TeamView(_Answer):
    team: TeamPublic
    date: date
    members: list[TeamMember]


# --- history (docs/protocol.md, "History") ------------------------------------------------------------------


class MinuteMark(enum.StrEnum):
    """One character per minute in a ``MemberDay.timeline``: how the merged minute was mostly spent (ties go
    to the more present state: active, then break, then idle), or no minute at all (the agent was not running,
    the PC was off or asleep: offline)."""

    ACTIVE = "a"
    BREAK = "b"
    IDLE = "i"
    NONE = "-"


class HourProfile(_Answer):
    """One local hour of a member's day (23 or 25 of them on DST days), summed from its merged minutes."""

    start: datetime  # the hour's start, UTC
    active_s: int = 0
    idle_s: int = 0
    break_s: int = 0
    input_s: int = 0


class Retention(_Answer):
    """What the server keeps: minutes for ``minutes_days`` days; older days as totals only if ``keeps_day_totals``."""

    minutes_days: int
    keeps_day_totals: bool


class MemberDay(_Answer):
    """One local day of one member: what the dashboard, the history views and exports show."""

    user_id: int
    name: str
    date: date  # the member's own local day
    time_zone: str
    totals: Totals
    first_activity: datetime | None = None  # start of the day's first minute with active seconds
    last_activity: datetime | None = None  # end of the day's last minute with active seconds
    hours: list[HourProfile] = []  # every local hour of the day, in order; empty when only day totals are kept
    #: One ``MinuteMark`` per minute from local midnight (1,380–1,500 characters); only in single-day answers,
    #: and None for days whose minutes are past the retention window.
    timeline: str | None = None
    #: What the server keeps, in the member routes' answers (a member reads no team answer to learn it); None
    #: in the team answers, which carry it once, and from servers before it was added (within v1).
    retention: Retention | None = None


class TeamDay(_Answer):
    """``GET /api/v1/team/days/{date}``: every member's day (with timelines) and the team's sum."""

    team: TeamPublic
    date: date
    members: list[MemberDay]
    totals: Totals
    retention: Retention


class MemberDays(_Answer):
    user_id: int
    name: str
    time_zone: str
    days: list[MemberDay]  # every day of the range, in order (zeros where nothing was recorded), no timelines
    #: As ``MemberDay.retention``: in the member routes' answers; None inside ``TeamDays``, which carries it once.
    retention: Retention | None = None


class TeamDays(_Answer):
    """``GET /api/v1/team/days?start=…&end=…``: each member's days over an inclusive range of dates."""

    team: TeamPublic
    start: date
    end: date
    members: list[MemberDays]
    retention: Retention


class Health(_Answer):
    status: Literal["ok", "degraded"]
    version: str | None = None  # only when the server runs with ``--health-details``
    database: bool
    sockets: int | None = None  # only when the server runs with ``--health-details``


class ErrorBody(_Answer):
    code: str
    message: str
    field: str | None = None


class ErrorResponse(_Answer):
    error: ErrorBody
