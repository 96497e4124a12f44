"""The running agent on Windows for real: ``python -m staffpulse --headless`` in the Windows Python under Wine,
with no folder options, so it finds its data and log folders itself (``agent.paths``: %LOCALAPPDATA%), and the
control channel (``sync/control.py``: a named pipe per user and a key file in the data folder) answering other
Windows processes.

What Wine cannot show: Wine runs every process as the one Linux user and enforces no Windows ACLs, so that another
Windows user cannot read the key file (it inherits the ACL of the profile's %LOCALAPPDATA%) or open the pipe is
not tested here; what is tested is the part that does not depend on ACLs: a client without the key is refused
before any request is read, and the agent goes on serving (docs/windows.md).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path, PureWindowsPath
from typing import Any

import pytest

from support.wine import WinePrefix, windows_path
from support.wine_desktop import local_app_data, wait_until

CLIENT = r"""
import json, os, sys
from multiprocessing import AuthenticationError
from pathlib import Path
from agent import paths
from sync import control

mine = control.send(paths.data_dir(), {"command": "status"})
try:  # a client with another key, as a process that cannot read this user's key file
    control.send(Path(sys.argv[1]), {"command": "status"})
    refused = False
except AuthenticationError:
    refused = True
print(json.dumps({"localappdata": os.environ["LOCALAPPDATA"], "data_dir": str(paths.data_dir()),
                  "log_dir": str(paths.log_dir()), "status": mine["state"], "other_key_refused": refused,
                  "after": control.send(paths.data_dir(), {"command": "status"})["state"]}))
"""


@pytest.fixture(scope="module")
def agent(running_wine: WinePrefix) -> Iterator[Path]:
    """The headless agent running for this module; yields its data folder as a Linux path."""
    data = local_app_data(running_wine) / "StaffPulse"
    with running_wine.popen([running_wine.python_exe, "-m", "staffpulse", "--headless"]) as process:
        wait_until(lambda: (data / "control.key").is_file() or process.poll() is not None, "the control key")
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        yield data
        process.kill()


@pytest.fixture(scope="module")
def client(running_wine: WinePrefix, agent: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What ``CLIENT``, another Windows process of the same user, saw."""
    other = tmp_path_factory.mktemp("other-key")
    (other / "control.key").write_bytes(b"k" * 32)
    done = running_wine.python(["-c", CLIENT, windows_path(other)])
    assert done.returncode == 0, done.stderr[-2000:]
    seen: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return seen


def test_the_agent_keeps_its_data_and_log_in_local_app_data(agent: Path, client: dict[str, Any]) -> None:
    seen = client
    local = PureWindowsPath(seen["localappdata"])
    assert local.parts[-2:] == ("AppData", "Local")
    assert PureWindowsPath(seen["data_dir"]) == local / "StaffPulse"
    assert PureWindowsPath(seen["log_dir"]) == local / "StaffPulse" / "Logs"
    assert {path.name for path in agent.iterdir()} >= {"control.key", "outbox.sqlite3", "Logs"}
    assert "agent started" in (agent / "Logs" / "agent.log").read_text(encoding="utf-8")


def test_another_windows_process_asks_the_agent_and_one_without_the_key_is_refused(
    agent: Path, client: dict[str, Any]
) -> None:
    seen = client
    assert seen["other_key_refused"] is True
    assert seen["status"] in ("active", "idle") and seen["after"] in ("active", "idle")  # served before and after
    log = (agent / "Logs" / "agent.log").read_text(encoding="utf-8")
    assert "control connection refused (AuthenticationError" in log


def test_the_cli_reaches_the_running_agent(running_wine: WinePrefix, agent: Path) -> None:
    done = running_wine.python(["-m", "staffpulse", "status", "--json"])
    assert done.returncode == 0, done.stderr[-2000:]
    status = json.loads(done.stdout)
    assert status["running"] is True  # answered by the agent, not read from the outbox by the CLI itself
    assert status["enrolled"] is False and status["server"] is None
