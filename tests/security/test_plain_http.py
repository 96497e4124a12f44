"""The agent never sends its token or its activity over plain http to another machine: it enrolled against
``http://`` servers silently, so the enrollment code, the token and every upload crossed the network in clear
text. http to this machine (demos, tests) stays allowed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
import requests.adapters

from support.keyrings import MemoryKeyring
from support.servers import ServerProcess
from support.team import Team, issue_code
from sync.api import ApiClient
from sync.credentials import CredentialStore
from sync.enrollment import enroll
from sync.errors import SyncError

ROOT = Path(__file__).resolve().parents[2]
CLEAR_TEXT = ["http://pulse.example.com", "http://10.1.2.3:8400", "http://127.0.0.1.pulse.example.com",
              "http://localhost@pulse.example.com"]


class Wire(requests.adapters.BaseAdapter):
    """Stands in for the network: records each request that would have left the machine."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        self.sent.append(request)
        raise requests.ConnectionError("the test's wire goes nowhere")

    def close(self) -> None:
        pass


@pytest.mark.parametrize("url", CLEAR_TEXT)
def test_enrolling_against_plain_http_elsewhere_is_refused_before_sending(url: str) -> None:
    wire = Wire()
    backend = MemoryKeyring()
    with requests.Session() as session:
        session.mount("http://", wire)
        with pytest.raises(SyncError, match=r"server_url .* must start with https://.* clear text"):
            enroll(ApiClient(url, lambda: None, session=session), CredentialStore(backend=backend),
                   code="ABCD-EFGH-JK")
    assert wire.sent == [], "the enrollment code went out in clear text"
    assert backend.items == {}


def test_the_enroll_command_refuses_plain_http_naming_the_field(tmp_path: Path) -> None:
    env = os.environ | {"STAFFPULSE_DATA_DIR": str(tmp_path / "data"), "STAFFPULSE_LOG_DIR": str(tmp_path / "logs"),
                        "PYTHON_KEYRING_BACKEND": "support.keyrings.FileKeyring",
                        "STAFFPULSE_TEST_KEYRING": str(tmp_path / "keyring.json"),
                        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
    done = subprocess.run([sys.executable, "-m", "staffpulse", "enroll", "--server", "http://pulse.example.com",
                           "--code", "ABCD-EFGH-JK"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "as the server address" in done.stderr and "clear text" in done.stderr, done.stderr
    assert not (tmp_path / "data" / "settings.json").exists()
    assert not (tmp_path / "keyring.json").exists()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_plain_http_to_this_machine_still_enrolls(server: ServerProcess, team: Team, host: str) -> None:
    backend = MemoryKeyring()
    url = server.url.replace("127.0.0.1", host)
    user = enroll(ApiClient(url, lambda: None), CredentialStore(backend=backend),
                  code=issue_code(server, team.people[1].login))
    assert user.login == team.people[1].login
    assert list(backend.items) == [("StaffPulse", url)]
