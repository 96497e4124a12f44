"""The control channel between ``staffpulse sync-now`` and the running agent."""

from __future__ import annotations

from multiprocessing.connection import Client
from pathlib import Path
from typing import Any

import pytest

from sync import control


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
