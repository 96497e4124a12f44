"""The admin CLI as IT uses it: every command explains itself, JSON output for scripts, clear refusals."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

COMMANDS = [[], ["serve"], ["migrate"], ["demo"], ["teams", "create"], ["teams", "list"], ["users", "create"],
            ["users", "list"], ["users", "code"], ["devices", "list"], ["devices", "revoke"], ["devices", "approve"],
            ["devices", "deny"], ["teams", "set"], ["keys", "create"],
            ["keys", "list"], ["keys", "revoke"]]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "server.cli", *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "top")
def test_every_command_has_help(command: list[str]) -> None:
    done = cli(*command, "--help")
    assert done.returncode == 0, done.stderr
    assert "usage: staffpulse-server" in done.stdout
    assert len(done.stdout.splitlines()) >= 4


def test_admin_round_trip_with_json(tmp_path: Path) -> None:
    db = ["--database-url", f"sqlite:///{tmp_path / 'admin.db'}", "--json"]

    def run(*args: str) -> Any:
        done = cli(*args, *db)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    team = run("teams", "create", "Support", "--idle-threshold", "120")
    assert team["idle_threshold_s"] == 120
    user = run("users", "create", "--team", "Support", "--login", "CORP\\Jo", "--name", "Jo", "--time-zone",
               "Europe/Paris", "--role", "manager")
    assert (user["login"], user["role"], user["time_zone"]) == ("corp\\jo", "manager", "Europe/Paris")
    code = run("users", "code", "corp\\jo")
    assert len(code["code"]) == 11
    key = run("keys", "create", "--team", "Support", "--allow-create")
    assert key["key"].startswith("spk_")
    listed = run("keys", "list")
    assert [k["id"] for k in listed] == [key["id"]]
    assert key["key"] not in json.dumps(listed), "key list must never show the secret"
    assert run("users", "list", "--team", "Support")[0]["login"] == "corp\\jo"
    assert run("devices", "list") == []


@pytest.mark.parametrize("args, field", [
    (["teams", "create", "X", "--idle-threshold", "5"], "idle-threshold"),
    (["users", "create", "--team", "Nope", "--login", "a", "--name", "A"], "team"),
    (["users", "code", "ghost@example.com"], "login"),
    (["devices", "revoke", "999"], "id"),
])
def test_refusals_name_the_field_and_exit_2(tmp_path: Path, args: list[str], field: str) -> None:
    done = cli(*args, "--database-url", f"sqlite:///{tmp_path / 'admin.db'}")
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: {field}:")


def test_duplicate_team_is_refused_and_nothing_half_stored(tmp_path: Path) -> None:
    db = ["--database-url", f"sqlite:///{tmp_path / 'admin.db'}"]
    assert cli("teams", "create", "Ops", *db).returncode == 0
    again = cli("teams", "create", "Ops", *db)
    assert again.returncode == 2
    assert "already exists" in again.stderr
    assert len(json.loads(cli("teams", "list", "--json", *db).stdout)) == 1
