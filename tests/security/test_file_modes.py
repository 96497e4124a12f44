"""Other people on the machine cannot read what the server and the agent keep: the server's SQLite database
(every user's activity, token hashes) and the agent's outbox, settings and log were 0644 in 0755 folders.
Both run for real here, under the common umask 022, and the modes of the files they made are checked."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

import pytest
from sqlalchemy import make_url

from agent import paths
from agent.outbox import FILE_NAME as OUTBOX
from support.processes import terminate
from support.servers import ServerProcess
from support.team import Team, issue_code

ROOT = Path(__file__).resolve().parents[2]
COMMON_UMASK = 0o022


def modes(paths: Iterable[Path]) -> dict[str, str]:
    return {path.name: oct(stat.S_IMODE(path.stat().st_mode)) for path in paths}


def wait_for(paths: list[Path], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not all(path.exists() for path in paths):
        assert time.monotonic() < deadline, [str(path) for path in paths if not path.exists()]
        time.sleep(0.05)


def test_the_server_database_and_its_sidecars_are_owner_only(server: ServerProcess, team: Team) -> None:
    assert team.people  # the server has written: the WAL and the shared-memory file exist while it runs
    database = Path(str(make_url(server.database_url).database))
    files = [database, database.with_name(database.name + "-wal"), database.with_name(database.name + "-shm")]
    wait_for(files)
    assert modes(files) == dict.fromkeys((f.name for f in files), "0o600")


def test_the_agent_keeps_its_outbox_settings_and_log_to_its_user(server: ServerProcess, team: Team,
                                                                 tmp_path: Path) -> None:
    data, logs = tmp_path / "data", tmp_path / "logs"
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")} | {
        "STAFFPULSE_DATA_DIR": str(data), "STAFFPULSE_LOG_DIR": str(logs),
        "PYTHON_KEYRING_BACKEND": "support.keyrings.FileKeyring",
        "STAFFPULSE_TEST_KEYRING": str(tmp_path / "keyring.json"),
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
    enrolled = subprocess.run([sys.executable, "-m", "staffpulse", "enroll", "--server", server.url, "--code",
                               issue_code(server, team.people[1].login)], env=env, cwd=ROOT, capture_output=True,
                              text=True, timeout=120, umask=COMMON_UMASK)
    assert enrolled.returncode == 0, enrolled.stderr
    agent = subprocess.Popen([sys.executable, "-m", "staffpulse", "--headless"], env=env, cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, umask=COMMON_UMASK)
    try:
        outbox = data / OUTBOX
        files = [data / "settings.json", outbox, outbox.with_name(OUTBOX + "-wal"),
                 outbox.with_name(OUTBOX + "-shm"), logs / "agent.log"]
        wait_for(files)
        assert modes([data, logs]) == {"data": "0o700", "logs": "0o700"}
        assert modes(files) == dict.fromkeys((f.name for f in files), "0o600")
    finally:
        terminate(agent)


def test_an_existing_folder_named_by_an_override_keeps_its_mode(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: ``STAFFPULSE_DATA_DIR=$HOME`` (or any existing folder) was chmodded 0700, locking out what else
    lives there, and a folder the user does not own crashed the agent with PermissionError. Only folders the
    agent creates, and its own default ones, are made private."""
    home, shared = tmp_path / "home", tmp_path / "shared"
    for folder in (home, shared):
        folder.mkdir()
        folder.chmod(0o755)
    monkeypatch.setenv("STAFFPULSE_DATA_DIR", str(home))
    monkeypatch.setenv("STAFFPULSE_LOG_DIR", str(shared))
    assert (paths.data_dir(), paths.log_dir()) == (home, shared)
    assert modes([home, shared]) == {"home": "0o755", "shared": "0o755"}
    created = tmp_path / "new" / "agent-data"
    assert paths.data_dir(created) == created
    assert modes([created]) == {"agent-data": "0o700"}, "a folder the agent creates is its user's alone"
    default = tmp_path / "xdg" / "StaffPulse"
    default.mkdir(parents=True)
    default.chmod(0o755)  # as an older install left it
    monkeypatch.delenv("STAFFPULSE_DATA_DIR")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert paths.data_dir() == default
    assert modes([default]) == {"StaffPulse": "0o700"}

