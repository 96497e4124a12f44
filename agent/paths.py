"""Where the agent keeps its data and logs: an explicit argument, else an environment override, else the
platform's per-user directory (platformdirs, app name "StaffPulse").

Both folders hold what other people on the machine must not read (the outbox, the settings, the log), so on
Linux and macOS the default folders are made the user's alone (0700), an older install's included, and the
files the agent creates in them are 0600 (``private_file``; the settings' temporary file and the log do the
same). A folder named by an override is made 0700 only when the agent creates it: an existing one (``$HOME``,
a shared folder an admin chose) keeps its mode, since changing it would lock out whatever else lives there
and fails outright on a folder the user does not own; the agent's files in it are 0600 all the same.
On Windows the per-user profile (%LOCALAPPDATA%) already carries an ACL that grants only the user, SYSTEM and
Administrators, and files created in it inherit it: nothing is changed there.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import platformdirs

APP_NAME = "StaffPulse"
PRIVATE_FOLDER, PRIVATE_FILE = 0o700, 0o600
#: Files SQLite keeps beside a database; it creates them with the database file's own mode.
SQLITE_SIDECARS = ("-wal", "-shm", "-journal")


def data_dir(explicit: Path | None = None) -> Path:
    """The outbox lives here; ``STAFFPULSE_DATA_DIR`` lets tests and admins move it."""
    override = explicit or os.environ.get("STAFFPULSE_DATA_DIR")
    if override:
        return chosen_folder(Path(override))
    return private_folder(Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)))


def log_dir(explicit: Path | None = None) -> Path:
    """Rotating log files live here; ``STAFFPULSE_LOG_DIR`` overrides the platform default."""
    override = explicit or os.environ.get("STAFFPULSE_LOG_DIR")
    if override:
        return chosen_folder(Path(override))
    return private_folder(Path(platformdirs.user_log_dir(APP_NAME, appauthor=False)))


def private_folder(path: Path) -> Path:
    """The agent's own ``path``, created if missing, and readable by its owner only (Linux, macOS)."""
    path.mkdir(mode=PRIVATE_FOLDER, parents=True, exist_ok=True)
    if sys.platform != "win32":
        path.chmod(PRIVATE_FOLDER)  # mkdir's mode is cut by the umask, and an older install made it 0755
    return path


def chosen_folder(path: Path) -> Path:
    """A folder named by an override: made private (Linux, macOS) only if the agent creates it here; an
    existing one is used as it is (module docstring)."""
    try:
        path.mkdir(mode=PRIVATE_FOLDER, parents=True)
    except FileExistsError:
        return path
    return private_folder(path)


def private_sqlite_file(path: Path) -> Path:
    """``path`` created empty if missing, owner-only (Linux, macOS), before SQLite opens it: SQLite then
    creates its -wal, -shm and -journal files with the same mode. Those an older install left are fixed."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE))
    if sys.platform != "win32":
        for name in (path.name, *(path.name + suffix for suffix in SQLITE_SIDECARS)):
            with contextlib.suppress(FileNotFoundError):
                (path.parent / name).chmod(PRIVATE_FILE)
    return path
