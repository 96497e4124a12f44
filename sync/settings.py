"""The agent's own settings file (``settings.json`` in the data dir): which server, and how to reach it.

Never the token (that is in the keyring). A broken file is an error that names the file and the field, not a
silent reset: the user or IT should know their setting was not applied. Writes are atomic and synced
(``agent.atomic``), so a crash mid-write leaves the old file intact.

IT's policy (``agent.policy``) beats this file: ``effective`` merges the two and says which fields policy
locked. The file keeps only what the person chose (``save_unlocked``), so a policy that is later withdrawn
leaves their own choice in force rather than a copy of IT's.

The team's policy (``GET /me``: idle threshold, upload interval) sits between the two: ``decide`` says what is in
force and who set it, IT's machine policy first, then the team's, then the person's own setting (or, for the
upload interval, which people do not set, StaffPulse's default). The running agent applies it
(``sync.service``) and the Settings dialog shows it, locked where IT or the team decided.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agent.atomic import write_atomically
from agent.policy import MachinePolicy, checked_server_url
from protocol.defaults import IDLE_THRESHOLD_S, INTERVAL_RANGE_S, SYNC_INTERVAL_S
from protocol.schema import Policy
from sync.errors import BadSetting, SyncError

FILE_NAME = "settings.json"


class AgentSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    server_url: str | None = None
    ca_bundle: str | None = None  # a PEM file with the corporate CA, for TLS-inspecting proxies
    idle_threshold_s: Annotated[int, Field(ge=INTERVAL_RANGE_S[0], le=INTERVAL_RANGE_S[1])] = IDLE_THRESHOLD_S

    @field_validator("server_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return checked_server_url(value) if value is not None else None


class Source(enum.StrEnum):
    """Who decided a setting's value."""

    YOURS = "yours"  # the person, in Settings
    DEFAULT = "default"  # nobody: StaffPulse's default
    TEAM = "team"  # the team's policy on the server
    IT = "it"  # IT's machine policy


@dataclasses.dataclass(frozen=True)
class Decided:
    value: int
    source: Source


@dataclasses.dataclass(frozen=True)
class Decisions:
    """The settings a team or IT may decide, as in force."""

    idle_threshold_s: Decided
    sync_interval_s: Decided


def decide(settings: AgentSettings, it_locked: frozenset[str], team: Policy | None) -> Decisions:
    """What is in force: IT's machine policy (the fields in ``it_locked``, whose values ``effective`` put in
    ``settings``) beats the team's policy (None until ``/me`` was read), which beats ``settings``."""
    def one(name: str, own: int, own_source: Source) -> Decided:
        if name in it_locked:
            return Decided(getattr(settings, name), Source.IT)
        if team is not None:
            return Decided(getattr(team, name), Source.TEAM)
        return Decided(own, own_source)

    return Decisions(idle_threshold_s=one("idle_threshold_s", settings.idle_threshold_s, Source.YOURS),
                     sync_interval_s=one("sync_interval_s", SYNC_INTERVAL_S, Source.DEFAULT))


@dataclasses.dataclass(frozen=True)
class Effective:
    """The settings the agent runs with, and the fields IT's policy set (shown locked, never saved)."""

    settings: AgentSettings
    locked: frozenset[str] = frozenset()


def effective(user: AgentSettings, policy: MachinePolicy) -> Effective:
    """``user`` with every field that ``policy`` sets replaced by the policy's value."""
    overrides = {name: getattr(policy, name) for name in policy.locked}
    return Effective(AgentSettings.model_validate(user.model_dump() | overrides), policy.locked)


class SettingsError(SyncError):
    pass


def changed(settings: AgentSettings, **changes: object) -> AgentSettings:
    """``settings`` with ``changes`` (what a person typed), or ``BadSetting`` naming the first field that cannot
    be used and why, for ``sync.errors.in_words`` (pydantic's own report is for developers)."""
    try:
        return AgentSettings.model_validate(settings.model_dump() | changes)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        cause = first.get("ctx", {}).get("error")  # a validator's ValueError: its own words, without pydantic's
        raise BadSetting(field, first.get("input"), str(cause) if cause is not None else first["msg"]) from None


def load(data_dir: Path) -> AgentSettings:
    path = data_dir / FILE_NAME
    if not path.exists():
        return AgentSettings()
    try:
        return AgentSettings.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "file"
        raise SettingsError(f"{path}: {field}: {first['msg']}") from None


def save(data_dir: Path, settings: AgentSettings) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    write_atomically(data_dir / FILE_NAME, json.dumps(settings.model_dump(exclude_defaults=True), indent=2))


def save_unlocked(data_dir: Path, edited: AgentSettings, locked: frozenset[str]) -> AgentSettings:
    """Save the person's edits to the fields policy does not lock; locked fields keep what the file had.
    Returns what was saved."""
    stored = load(data_dir)
    kept = {name: getattr(stored, name) for name in locked}
    mine = AgentSettings.model_validate(edited.model_dump() | kept)
    save(data_dir, mine)
    return mine
