"""The agent's own settings file (``settings.json`` in the data dir): which server, and how to reach it.

Never the token (that is in the keyring). A broken file is an error that names the file and the field, not a
silent reset: the user or IT should know their setting was not applied. Writes go through a temporary file
and a rename, so a crash mid-write leaves the old file intact.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sync.errors import SyncError

FILE_NAME = "settings.json"


class AgentSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    server_url: str | None = None
    ca_bundle: str | None = None  # a PEM file with the corporate CA, for TLS-inspecting proxies
    idle_threshold_s: Annotated[int, Field(ge=60, le=3600)] = 300

    @field_validator("server_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("must start with https://")
        return value.rstrip("/") if value else value


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
    descriptor, temporary = tempfile.mkstemp(dir=data_dir, prefix=".settings-", suffix=".json")
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(settings.model_dump(exclude_defaults=True), handle, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, data_dir / FILE_NAME)
