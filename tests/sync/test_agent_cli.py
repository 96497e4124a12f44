"""``staffpulse`` end to end: enroll with a code, run headless against the real server, and drive it with
``status``, ``sync-now`` and ``break`` from other processes, as a script or IT would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from agent.outbox import Outbox
from protocol.schema import Slot
from staffpulse.status_text import status_lines
from support.processes import terminate
from support.procfs import resident_mb
from support.servers import ServerProcess
from support.team import LiveClient, Team, approve, backdate_enrollment, enroll_by_key, get, issue_code, new_key

ROOT = Path(__file__).resolve().parents[2]
NOON = (datetime.now(UTC) - timedelta(days=1)).replace(hour=12, minute=0, second=0, microsecond=0)


def minutes(count: int, start: datetime) -> list[Slot]:
    return [Slot(start=start + timedelta(minutes=i), tracked_s=60, active_s=60, idle_s=0, break_s=0, input_s=30,
                 keys=2, clicks=1, scrolls=0, mouse_px=10) for i in range(count)]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """An agent's world: its own data and log dirs, a stand-in keyring, and no display (headless)."""
    base = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    return base | {"STAFFPULSE_DATA_DIR": str(tmp_path / "data"), "STAFFPULSE_LOG_DIR": str(tmp_path / "logs"),
                   "PYTHON_KEYRING_BACKEND": "support.keyrings.FileKeyring",
                   "STAFFPULSE_TEST_KEYRING": str(tmp_path / "keyring.json"),
                   "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}


def staffpulse(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "staffpulse", *args], env=env, capture_output=True, text=True,
                          timeout=120, cwd=ROOT)


@pytest.fixture
def agent(env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    processes: list[subprocess.Popen[str]] = []

    def start() -> subprocess.Popen[str]:
        process = subprocess.Popen([sys.executable, "-m", "staffpulse", "--headless"], env=env, cwd=ROOT,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        processes.append(process)
        deadline = time.monotonic() + 20
        while staffpulse(env, "status", "--json").stdout.find('"running": true') < 0:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "agent did not start"
            time.sleep(0.2)
        return process

    yield start  # type: ignore[misc]
    for process in processes:
        if process.poll() is None:
            terminate(process)
        if process.stderr:
            process.stderr.close()


def enrolled_long_ago(server: ServerProcess, env: dict[str, str]) -> None:
    """Backdate the device this agent just enrolled: the tests pre-fill its outbox with yesterday's minutes, which
    the server refuses from a device enrolled after them."""
    [token] = json.loads(Path(env["STAFFPULSE_TEST_KEYRING"]).read_text()).values()
    me = requests.get(server.url + "/api/v1/me", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    backdate_enrollment(server, [me.json()["device_id"]])


def status(env: dict[str, str]) -> dict[str, Any]:
    done = staffpulse(env, "status", "--json")
    assert done.returncode == 0, done.stderr
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def test_enroll_run_sync_now_break_and_status(server: ServerProcess, team: Team, env: dict[str, str],
                                              agent: Any) -> None:
    member, manager = team.people[1], team.people[0]
    done = staffpulse(env, "enroll", "--server", server.url, "--code", issue_code(server, member.login))
    assert done.returncode == 0, done.stderr
    assert f"Enrolled as {member.name}" in done.stdout
    keyring_file = Path(env["STAFFPULSE_TEST_KEYRING"])
    assert len(json.loads(keyring_file.read_text())) == 1
    settings = Path(env["STAFFPULSE_DATA_DIR"]) / "settings.json"
    assert "token" not in settings.read_text().lower(), "the token belongs in the keyring only"

    enrolled_long_ago(server, env)
    outbox = Outbox(Path(env["STAFFPULSE_DATA_DIR"]))
    outbox.commit(minutes(4, NOON), checkpoint="{}")
    outbox.close()
    watcher = LiveClient(server, manager.token).connect()
    try:
        process = agent()
        answer = status(env)
        assert answer["running"] and answer["enrolled"] and answer["server"] == server.url
        # The agent's own cost, as staff and IT ask: what it measures of itself is what the OS says of it.
        rss_mb = resident_mb(process.pid)
        assert 0.5 * rss_mb <= answer["memory_mb"] <= 2 * rss_mb and answer["memory_mb"] > 10, answer
        assert 0 < answer["cpu_percent"] < 100 * (os.cpu_count() or 1), answer
        printed = staffpulse(env, "status").stdout
        assert "% of one core, on average since it started" in printed and " MiB\n" in printed, printed
        deadline = time.monotonic() + 10
        while status(env).get("connection") != "live":
            assert time.monotonic() < deadline, status(env)
            time.sleep(0.2)

        more = Outbox(Path(env["STAFFPULSE_DATA_DIR"]))
        more.commit(minutes(37, NOON + timedelta(hours=1)), checkpoint=more.checkpoint() or "{}")
        more.close()
        synced = staffpulse(env, "sync-now")
        assert synced.returncode == 0, synced.stderr + synced.stdout
        assert synced.stdout.startswith("Sent 37 minutes at "), synced.stdout
        report = get(server, member, f"/api/v1/me/days/{NOON.date().isoformat()}").json()
        assert report["totals"]["keys"] == 2 * (4 + 37), "each pre-filled minute arrives exactly once"
        assert report["totals"]["tracked_s"] == 60 * (4 + 37)
        assert status(env)["pending"] <= 1  # at most the minute being sampled right now

        assert staffpulse(env, "break", "start").returncode == 0
        event = watcher.wait_for("presence", lambda d: d["user_id"] == member.user_id and d["state"] == "break",
                                 timeout=3)
        assert event["name"] == member.name
        assert status(env)["state"] == "break"

        assert terminate(process) == 0
        stopped = status(env)
        assert stopped["running"] is False
    finally:
        watcher.close()
    [token] = json.loads(keyring_file.read_text()).values()
    written = [p for d in ("STAFFPULSE_DATA_DIR", "STAFFPULSE_LOG_DIR") for p in Path(env[d]).rglob("*") if p.is_file()]
    assert any(p.name == "agent.log" for p in written)
    for path in written:
        assert token.encode() not in path.read_bytes(), f"the device token leaked into {path}"
    log = b"".join(path.read_bytes() for path in written if path.name.startswith("agent.log"))
    assert b"an ApiClient belongs to one thread" not in log, "a requests.Session was shared between threads"
    assert b"ended by an error" not in log and b"upload run failed" not in log


def test_sync_now_without_a_running_agent_syncs_itself(server: ServerProcess, team: Team,
                                                       env: dict[str, str]) -> None:
    member = team.people[2]
    assert staffpulse(env, "enroll", "--server", server.url, "--code",
                      issue_code(server, member.login)).returncode == 0
    enrolled_long_ago(server, env)
    outbox = Outbox(Path(env["STAFFPULSE_DATA_DIR"]))
    outbox.commit(minutes(5, NOON), checkpoint="{}")
    outbox.close()
    done = staffpulse(env, "sync-now")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().startswith("Sent 5 minutes at ")
    assert status(env)["pending"] == 0


def test_commands_fail_clearly(env: dict[str, str], server: ServerProcess) -> None:
    not_enrolled = staffpulse(env, "sync-now")
    assert (not_enrolled.returncode, "not enrolled" in not_enrolled.stderr) == (1, True)
    wrong = staffpulse(env, "enroll", "--server", server.url, "--code", "AAAAA-BBBBB")
    assert wrong.returncode == 1 and "unknown enrollment code" in wrong.stderr
    bad_url = staffpulse(env, "enroll", "--server", "ftp://nope", "--code", "AAAAA-BBBBB")
    assert bad_url.returncode == 1 and "“ftp://nope” cannot be used as the server address" in bad_url.stderr
    # Issue 15, item 10: pydantic's report (with its link) is for developers, not for the person enrolling.
    for internal in ("server_url", "validation error", "Value error", "errors.pydantic.dev", "type=value_error"):
        assert internal not in bad_url.stderr, bad_url.stderr
    unreachable = staffpulse(env, "enroll", "--server", "http://127.0.0.1:9", "--code", "AAAAA-BBBBB")
    assert unreachable.returncode == 1, unreachable.stderr
    assert "Cannot reach the server (127.0.0.1:9)" in unreachable.stderr
    assert "ConnectionError" not in unreachable.stderr
    log_text = (Path(env["STAFFPULSE_LOG_DIR"]) / "agent.log").read_text()
    assert "ConnectionError" in log_text and "server_url 'ftp://nope'" in log_text, "the detail goes to the log"
    assert staffpulse(env, "break", "start").returncode == 1
    settings = Path(env["STAFFPULSE_DATA_DIR"]) / "settings.json"
    settings.write_text('{"idle_threshold_s": 1}')
    broken = staffpulse(env, "status")
    assert broken.returncode == 2 and f"{settings}: idle_threshold_s" in broken.stderr


def test_status_prints_words_not_python_values(env: dict[str, str]) -> None:
    """Issue 15, item 12: no ``{}``, ``None`` or ``True`` for people to decode."""
    printed = staffpulse(env, "status")
    assert printed.returncode == 0, printed.stderr
    lines = printed.stdout.splitlines()
    assert "set aside: none" in lines and "server: not configured" in lines and "running: no" in lines, lines
    assert not any(word in printed.stdout for word in ("{}", "None", "True", "False")), printed.stdout
    assert status_lines({"set_aside": {"minute before this device was enrolled": 3}, "last_sync": None,
                         "enrolled": True}) == ["set aside: 3 minutes (minute before this device was enrolled)",
                                                "last sync: never", "enrolled: yes"]


def test_status_tells_of_a_device_enrolled_as_me(server: ServerProcess, team: Team, env: dict[str, str],
                                                 agent: Any) -> None:
    """Issue 13, item 1: a colleague enrolls a device with the team's deployment key and my login; once an admin
    approves it, my running agent's ``staffpulse status`` says so."""
    member = team.people[1]
    assert staffpulse(env, "enroll", "--server", server.url, "--code",
                      issue_code(server, member.login)).returncode == 0
    agent()
    deadline = time.monotonic() + 10
    while status(env).get("connection") != "live":
        assert time.monotonic() < deadline, status(env)
        time.sleep(0.2)
    intruder = enroll_by_key(server, new_key(server, team.name), member.login, device_name="intruder-pc").json()
    assert intruder["status"] == "pending"
    approve(server, intruder["device_id"])
    deadline = time.monotonic() + 10
    while not status(env).get("new_devices"):
        assert time.monotonic() < deadline, status(env)
        time.sleep(0.2)
    [notice] = status(env)["new_devices"]
    assert "'intruder-pc'" in notice and "deployment key 'test-key'" in notice and "approved" in notice
    printed = staffpulse(env, "status").stdout
    assert f"new device: {notice}" in printed.splitlines()


def test_enrolling_a_second_device_with_the_key_says_it_waits_for_approval(server: ServerProcess, team: Team,
                                                                          env: dict[str, str]) -> None:
    member = team.people[1]
    done = staffpulse(env, "enroll", "--server", server.url, "--deployment-key", new_key(server, team.name),
                      "--login", member.login)
    assert done.returncode == 0, done.stderr
    assert f"Enrolled as {member.name}" in done.stdout
    assert "Not syncing yet: An admin has yet to approve this device." in done.stdout, done.stdout


def test_every_entry_point_reaches_the_app_package(env: dict[str, str]) -> None:
    """The console script and ``python -m staffpulse`` are the app's command; ``--headless`` is an option of
    the app (tray or not) that the sampler alone, which never has a tray, does not offer."""
    script = Path(sys.executable).with_name("staffpulse")
    for command in ([str(script)], [sys.executable, "-m", "staffpulse"]):
        done = subprocess.run([*command, "--help"], env=env, capture_output=True, text=True, timeout=60, cwd=ROOT)
        assert done.returncode == 0 and "--headless" in done.stdout and "sync-now" in done.stdout, done.stderr
    sampler = [sys.executable, "-m", "staffpulse.sampler"]
    done = subprocess.run([*sampler, "--help"], env=env, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0 and "--idle-threshold" in done.stdout and "--headless" not in done.stdout
    done = subprocess.run([*sampler, "--headless"], env=env, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 2 and "unrecognized arguments: --headless" in done.stderr
