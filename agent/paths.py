"""Where the agent keeps its data and logs: an explicit argument, else an environment override, else the
platform's per-user directory (platformdirs, app name "StaffPulse")."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "StaffPulse"


def data_dir(explicit: Path | None = None) -> Path:
    """The outbox lives here; ``STAFFPULSE_DATA_DIR`` lets tests and admins move it."""
    override = explicit or os.environ.get("STAFFPULSE_DATA_DIR")
    path = Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def log_dir(explicit: Path | None = None) -> Path:
    """Rotating log files live here; ``STAFFPULSE_LOG_DIR`` overrides the platform default."""
    override = explicit or os.environ.get("STAFFPULSE_LOG_DIR")
    path = Path(override) if override else Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path
