"""The admin CLI as IT uses it: every command explains itself, JSON output for scripts, clear refusals."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from support.servers import PostgresCluster, announced_port

COMMANDS = [[], ["serve"], ["migrate"], ["demo"], ["teams", "create"], ["teams", "list"], ["users", "create"],
            ["users", "rename"], ["users", "list"], ["users", "code"], ["devices", "list"], ["devices", "revoke"],
            ["devices", "approve"], ["devices", "deny"], ["teams", "set"], ["keys", "create"],
            ["keys", "list"], ["keys", "revoke"]]


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "server.cli", *args], capture_output=True, text=True, timeout=60,
                          env=None if env is None else os.environ | env)


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
    team = run("teams", "set", "Support", "--sync-interval", "600", "--pause-allowed", "yes")
    assert (team["idle_threshold_s"], team["sync_interval_s"], team["pause_allowed"]) == (120, 600, True)
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


def test_a_database_url_file_keeps_the_password_out_of_the_process_list(postgres: PostgresCluster,
                                                                        tmp_path: Path) -> None:
    """``--database-url postgresql://user:password@…`` is in /proc/PID/cmdline for every local user to read;
    ``--database-url-file`` (and ``STAFFPULSE_DATABASE_URL``) are not."""
    password = "pw-" + uuid.uuid4().hex
    url = postgres.create_database(f"t_{uuid.uuid4().hex[:12]}").replace("staffpulse@", f"staffpulse:{password}@")
    url_file = tmp_path / "database-url"
    url_file.write_text(url + "\n")
    url_file.chmod(0o600)
    assert cli("teams", "create", "Ops", "--database-url-file", str(url_file)).returncode == 0
    log = tmp_path / "server.log"
    with log.open("w") as stderr, subprocess.Popen(
            [sys.executable, "-m", "server.cli", "serve", "--port", "0", "--database-url-file", str(url_file)],
            stdout=subprocess.PIPE, stderr=stderr, text=True) as server:
        try:
            port = announced_port(server, log, "server")
            assert password.encode() not in Path(f"/proc/{server.pid}/cmdline").read_bytes()
            assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10).json()["database"] is True
        finally:
            server.terminate()
            server.wait(timeout=15)
    listed = json.loads(cli("teams", "list", "--json", env={"STAFFPULSE_DATABASE_URL": url}).stdout)
    assert [team["name"] for team in listed] == ["Ops"]


@pytest.mark.parametrize(("content", "problem"), [(None, "cannot read"), ("\n", "is empty")])
def test_an_unusable_database_url_file_is_refused_naming_the_flag(tmp_path: Path, content: str | None,
                                                                 problem: str) -> None:
    url_file = tmp_path / "database-url"
    if content is not None:
        url_file.write_text(content)
    for command in (["teams", "list"], ["serve", "--port", "0"]):
        done = cli(*command, "--database-url-file", str(url_file))
        assert done.returncode == 2
        assert done.stderr.startswith("error: --database-url-file: ") and problem in done.stderr, done.stderr


def test_database_url_and_its_file_are_exclusive(tmp_path: Path) -> None:
    done = cli("teams", "list", "--database-url", f"sqlite:///{tmp_path / 'a.db'}", "--database-url-file", "x")
    assert done.returncode == 2
    assert "not allowed with argument" in done.stderr


def test_an_admin_command_reading_another_code_secret_is_refused_naming_the_file(tmp_path: Path) -> None:
    """Codes issued under another secret file (another OS account's data dir, a second host) would match no
    server's: the first secret used with a database is recorded, and another one is refused, naming its file."""
    url = f"sqlite:///{tmp_path / 'server.db'}"
    first = {"STAFFPULSE_SECRET_FILE": str(tmp_path / "server.secret")}
    for args in (("teams", "create", "T"), ("users", "create", "--team", "T", "--login", "a@x.example", "--name", "A"),
                 ("users", "code", "a@x.example")):
        done = cli(*args, "--database-url", url, env=first)
        assert done.returncode == 0, done.stderr
    other = tmp_path / "other.secret"
    refused = cli("users", "code", "a@x.example", "--database-url", url, env={"STAFFPULSE_SECRET_FILE": str(other)})
    assert refused.returncode == 2 and str(other) in refused.stderr and "STAFFPULSE_SECRET_FILE" in refused.stderr, \
        refused.stderr
    assert cli("users", "code", "a@x.example", "--database-url", url, env=first).returncode == 0
