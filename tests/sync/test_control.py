"""The control channel between ``staffpulse sync-now`` and the running agent."""

from __future__ import annotations

import json
import os
import pickle
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Client
from pathlib import Path
from typing import Any

import pytest

from support.processes import terminate
from sync import control
from sync.instance import InstanceLock

ROOT = Path(__file__).resolve().parents[2]


def test_request_reaches_the_running_agent(tmp_path: Path) -> None:
    seen: list[dict[str, Any]] = []

    def handler(request: dict[str, Any]) -> dict[str, Any]:
        seen.append(request)
        if request.get("command") == "boom":
            raise RuntimeError("exploded")
        return {"ok": True, "echo": request["command"]}

    assert control.send(tmp_path, {"command": "status"}) is None, "no agent yet: None, not an error"
    server = control.ControlServer(tmp_path, handler)
    server.start()
    try:
        assert control.send(tmp_path, {"command": "status"}) == {"ok": True, "echo": "status"}
        assert control.send(tmp_path, {"command": "boom"}) == {"ok": False, "error": "exploded"}
        assert oct((tmp_path / control.KEY_FILE).stat().st_mode & 0o777) == "0o600"
        with pytest.raises(Exception):  # noqa: B017 - any handshake failure will do
            Client(str(tmp_path / "control.sock"), family="AF_UNIX", authkey=b"wrong key")
        assert control.send(tmp_path, {"command": "status"}) == {"ok": True, "echo": "status"}
    finally:
        server.close()
    assert [r["command"] for r in seen] == ["status", "boom", "status"]
    assert control.send(tmp_path, {"command": "status"}) is None


def test_a_client_killed_mid_handshake_does_not_end_the_channel(tmp_path: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    server = control.ControlServer(tmp_path, lambda request: {"ok": True, "echo": request["command"]})
    server.start()
    try:
        for _ in range(3):
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as dropped:
                dropped.connect(str(tmp_path / "control.sock"))
                # The agent's challenge has arrived, unread: closing now resets the connection under the
                # agent's handshake, as a client killed there does (ConnectionResetError, an OSError).
                assert dropped.recv(1, socket.MSG_PEEK)
        with ThreadPoolExecutor(1) as pool:  # a dead channel leaves the handshake waiting: bound the failure
            answer = pool.submit(control.send, tmp_path, {"command": "status"})
            assert answer.result(timeout=30) == {"ok": True, "echo": "status"}
        assert server.alive
    finally:
        server.close()
    assert "ConnectionResetError" in caplog.text


class Planted:
    """Unpickling this touches ``path``: the proof that a pickle was evaluated."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.path,))


def test_only_json_objects_are_read_and_a_pickle_runs_nothing(tmp_path: Path) -> None:
    seen: list[dict[str, Any]] = []

    def handler(request: dict[str, Any]) -> dict[str, Any]:
        seen.append(request)
        return {"ok": True}

    server = control.ControlServer(tmp_path, handler)
    server.start()
    key = (tmp_path / control.KEY_FILE).read_bytes()
    planted = tmp_path / "planted"

    def ask(message: bytes | None = None, obj: object = None) -> dict[str, Any]:
        with Client(str(tmp_path / "control.sock"), family="AF_UNIX", authkey=key) as connection:
            try:
                if message is not None:
                    connection.send_bytes(message)
                else:
                    connection.send(obj)  # the pickling send a client could still use
            except BrokenPipeError:  # refused on its length header; the answer is already on its way
                pass
            answer: dict[str, Any] = json.loads(connection.recv_bytes())
            return answer

    try:
        answer = ask(obj=Planted(planted))
        assert answer["ok"] is False and answer["error"].startswith("request refused: not JSON"), answer
        assert pickle.loads(pickle.dumps(Planted(tmp_path / "real"))) is None and (tmp_path / "real").exists(), \
            "the planted pickle does run code when unpickled"
        assert not planted.exists(), "the agent unpickled the request"
        assert ask(b"{not json")["error"].startswith("request refused: not JSON")
        assert ask(b"[1, 2]")["error"] == "request refused: a JSON object is expected, not list"
        assert ask(b"\xff\xfe")["error"].startswith("request refused: not JSON")
        too_long = json.dumps({"command": "status", "pad": "x" * control.MAX_REQUEST_BYTES}).encode()
        assert ask(too_long)["error"] == "request refused: bad message length"
        assert seen == [], "no malformed request reached the handler"
        assert control.send(tmp_path, {"command": "status"}) == {"ok": True}, "the channel still serves"
        assert seen == [{"command": "status"}]
    finally:
        server.close()


def test_the_instance_lock_admits_one_holder_at_a_time(tmp_path: Path) -> None:
    first, second = InstanceLock(tmp_path), InstanceLock(tmp_path)
    assert first.acquire()
    assert not second.acquire(), "a second holder in the same data dir must be refused"
    first.release()
    assert second.acquire(), "released (as when the process ends): the next one gets it"
    second.release()


def test_two_agents_started_at_the_same_moment_one_runs(tmp_path: Path) -> None:
    """No control channel exists yet when both start, so only the OS lock can decide the race."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env |= {"STAFFPULSE_DATA_DIR": str(tmp_path / "data"), "STAFFPULSE_LOG_DIR": str(tmp_path / "logs"),
            "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "staffpulse", "--headless"]
    agents = [subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True) for _ in range(2)]
    try:
        deadline = time.monotonic() + 30
        while all(agent.poll() is None for agent in agents):
            assert time.monotonic() < deadline, "neither launch gave way"
            time.sleep(0.05)
        (loser,) = [agent for agent in agents if agent.poll() is not None]
        (winner,) = [agent for agent in agents if agent is not loser]
        _out, err = loser.communicate()
        assert loser.returncode == 1 and "already running" in err, err
        while control.send(tmp_path / "data", {"command": "status"}) is None:
            assert winner.poll() is None and time.monotonic() < deadline, "the winner did not start"
            time.sleep(0.1)
        assert terminate(winner) == 0
    finally:
        for agent in agents:
            if agent.poll() is None:
                agent.kill()
            agent.communicate()
