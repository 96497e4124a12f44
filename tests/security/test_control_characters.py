"""Names that drive a terminal or disguise themselves are refused at input and escaped at output (issue 13, item 11).

``device_name``, ``platform``, ``agent_version`` and logins reached ``staffpulse-server devices list`` and
teammates' windows raw: an OSC sequence retitles the admin's terminal, ``ESC[2J`` clears it, a right-to-left
override shows a name backwards, a zero-width space makes two logins look the same. Enrollment (over raw HTTP)
and the admin CLI refuse them naming the field; what is already stored prints escaped.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import subprocess
import sys
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from protocol.text import is_control
from protocol.version import VERSION
from server import admin
from server.migrate import run_in_session
from server.models import Device
from support.servers import ServerProcess
from support.team import Team, issue_code

OSC_TITLE = "PC\x1b]0;owned\x07"
CLEAR_SCREEN = "PC\x1b[2J"
RIGHT_TO_LEFT = "\u202egnp.exe"
ZERO_WIDTH = "ali\u200bce"
C1_CSI = "PC\x9b31m"
HOSTILE = [OSC_TITLE, CLEAR_SCREEN, RIGHT_TO_LEFT, ZERO_WIDTH, C1_CSI, "two\nlines", "tab\there", "bom\ufeff"]


def enroll(server: ServerProcess, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    address = urlsplit(server.url)
    connection = http.client.HTTPConnection(address.hostname or "127.0.0.1", address.port, timeout=30)
    try:
        connection.request("POST", "/api/v1/enroll", body=json.dumps(body).encode(),
                           headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        answer: dict[str, Any] = json.loads(response.read())
        return response.status, answer
    finally:
        connection.close()


def device_count(database_url: str) -> int:
    async def count(session: Any, _now: datetime) -> int:
        return int(await session.scalar(select(func.count()).select_from(Device)))

    result: int = asyncio.run(run_in_session(database_url, count))
    return result


@pytest.mark.parametrize("field", ["device_name", "platform", "agent_version"])
@pytest.mark.parametrize("text", HOSTILE, ids=repr)
def test_enrollment_refuses_control_characters_naming_the_field(server: ServerProcess, team: Team, field: str,
                                                                 text: str) -> None:
    before = device_count(server.database_url)
    body = {"code": issue_code(server, team.people[1].login), "device_name": "PC-0042", "platform": "linux",
            "agent_version": VERSION} | {field: text}
    status, answer = enroll(server, body)
    assert (status, answer["error"]["code"], answer["error"]["field"]) == (422, "invalid", field), answer
    assert "control or format characters" in answer["error"]["message"]
    assert device_count(server.database_url) == before, "a refused enrollment stored nothing"


def test_a_deployment_key_login_with_control_characters_is_refused(server: ServerProcess, team: Team) -> None:
    status, answer = enroll(server, {"deployment_key": "spk_" + "x" * 20, "login": ZERO_WIDTH,
                                     "device_name": "PC-0042", "platform": "linux", "agent_version": VERSION})
    assert (status, answer["error"]["field"]) == (422, "login"), answer


def test_ordinary_spaces_and_letters_of_any_script_are_names(server: ServerProcess, team: Team) -> None:
    status, answer = enroll(server, {"code": issue_code(server, team.people[1].login),
                                     "device_name": "Zoë’s PC 2\u00a0— 東京", "platform": "linux",
                                     "agent_version": f"{VERSION} beta"})
    assert status == 201, answer


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "server.cli", *args], capture_output=True, text=True, timeout=60,
                          encoding="utf-8")


@pytest.mark.parametrize("args, field", [
    (["teams", "create", CLEAR_SCREEN], "name"),
    (["users", "create", "--team", "Support", "--login", ZERO_WIDTH, "--name", "Alice"], "login"),
    (["users", "create", "--team", "Support", "--login", "bob@x.example", "--name", RIGHT_TO_LEFT], "name"),
    (["keys", "create", "--team", "Support", "--name", OSC_TITLE], "name"),
])
def test_the_admin_cli_refuses_control_characters_naming_the_field(tmp_path: Path, args: list[str],
                                                                    field: str) -> None:
    database = ["--database-url", f"sqlite:///{tmp_path / 'admin.db'}"]
    assert cli("teams", "create", "Support", *database).returncode == 0
    done = cli(*args, *database)
    assert done.returncode == 2, done.stdout
    assert done.stderr.startswith(f"error: {field}: must not contain control or format characters"), done.stderr
    listed = cli("users", "list", "--json", *database).stdout + cli("keys", "list", "--json", *database).stdout
    assert json.loads(cli("teams", "list", "--json", *database).stdout)[0]["name"] == "Support"
    assert listed.count("{") == 0, f"nothing was created: {listed}"


def test_names_already_stored_print_escaped_in_table_and_json(tmp_path: Path) -> None:
    """Rows stored before the refusal existed (or written by anything but the API) reach the admin's terminal
    as text, never as escape sequences."""
    url = f"sqlite:///{tmp_path / 'admin.db'}"

    async def seed(session: Any, now: datetime) -> None:
        await admin.create_team(session, name="Support", now=now)
        user = await admin.create_user(session, team="Support", login="jo@x.example", name="Jo", now=now)
        session.add_all(Device(user_id=user["id"], name=name, platform=RIGHT_TO_LEFT, agent_version=ZERO_WIDTH,
                               token_hash=uuid.uuid4().hex, created_at=now) for name in (OSC_TITLE, C1_CSI))
        await session.flush()

    asyncio.run(run_in_session(url, seed))
    table = cli("devices", "list", "--database-url", url)
    as_json = cli("devices", "list", "--json", "--database-url", url)
    for done in (table, as_json):
        assert done.returncode == 0, done.stderr
        printed = done.stdout.replace("\n", "")
        assert not [c for c in printed if is_control(c)], f"raw control characters reached the terminal: {printed!r}"
    assert "PC\\x1b]0;owned\\x07" in table.stdout and "\\u202egnp.exe" in table.stdout
    assert "PC\\x9b31m" in table.stdout and "ali\\u200bce" in table.stdout
    assert {device["name"] for device in json.loads(as_json.stdout)} == {OSC_TITLE, C1_CSI}, \
        "JSON keeps the stored text, escaped by JSON itself"
