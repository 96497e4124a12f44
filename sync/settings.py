"""The agent's own settings file (``settings.json`` in the data dir): which server, and how to reach it.

Never the token (that is in the keyring). A broken file is an error that names the file and the field, not a
silent reset: the user or IT should know their setting was not applied. Writes are atomic and synced
(``agent.atomic``), so a crash mid-write leaves the old file intact.

IT's policy (``agent.policy``) beats this file: ``effective`` merges the two and says which fields policy
locked. The file keeps only what the person chose (``save_unlocked``), so a policy that is later withdrawn
leaves their own choice in force rather than a copy of IT's.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agent.atomic import write_atomically
from agent.policy import MachinePolicy, checked_server_url
from protocol.defaults import IDLE_THRESHOLD_S, INTERVAL_RANGE_S
from sync.errors import SyncError

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
