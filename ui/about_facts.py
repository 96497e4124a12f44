"""What the About dialog says, in plain words, without Qt: who this device is enrolled as, where, which version,
and where its files are. ``ui.about_dialog`` shows the rows."""

from __future__ import annotations

import logging
from pathlib import Path

from protocol.schema import Me

NOT_ENROLLED = "Not enrolled: choose Settings… and enter the code your manager gave you."
NOT_READ = "Not known yet: StaffPulse has not reached the server since it started."


def about_rows(*, me: Me | None, enrolled: bool, server_url: str | None, version: str, data_dir: Path,
               log_dir: Path | None) -> list[tuple[str, str]]:
    """(label, value) rows; ``me`` is the server's last ``/me`` answer, None when none came yet."""
    if not enrolled or server_url is None:
        rows = [("Signed in as", NOT_ENROLLED)]
    elif me is None:
        rows = [("Signed in as", NOT_READ)]
    else:
        rows = [("Signed in as", f"{me.user.name} ({me.user.login})"), ("Role", me.user.role.value.capitalize()),
                ("Team", me.team.name), ("Time zone", me.user.time_zone), ("This device", f"number {me.device_id}")]
    return [*rows, ("Server", server_url or "None chosen yet"), ("Version", version), ("Data folder", str(data_dir)),
            ("Log folder", str(log_dir) if log_dir is not None else "None: this run logs to the console only")]


def log_folder() -> Path | None:
    """Where this process's log file is, read from the logging set-up itself (``--log-dir``, the environment or
    the platform default, whichever won); None when no handler writes to a file."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            return Path(handler.baseFilename).parent
    return None
