"""Damaged files at agent start, through the real ``staffpulse`` command.

A corrupt outbox (garbage, truncated, or failing ``PRAGMA quick_check``) is moved aside with its ``-wal`` and
``-shm`` files, a fresh one is started and the person is told (log, ``staffpulse status``). A corrupt
``settings.json`` stops the agent with exit status 2 and a message naming the file and the field: it decides
which server gets the data, so guessing would be worse than not starting (docs/reliability.md).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent.outbox import Outbox
from protocol.schema import Slot
from support.processes import terminate
from sync import control

ROOT = Path(__file__).resolve().parents[2]


def environment(tmp_path: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    return base | {"STAFFPULSE_DATA_DIR": str(tmp_path / "data"), "STAFFPULSE_LOG_DIR": str(tmp_path / "logs"),
                   "PYTHONPATH": str(ROOT)}


def staffpulse(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "staffpulse", *args], env=env, capture_output=True, text=True,
                          timeout=60, cwd=ROOT)


def status(env: dict[str, str]) -> dict[str, object]:
    done = staffpulse(env, "status", "--json")
    assert done.returncode == 0, done.stderr
    answer: dict[str, object] = json.loads(done.stdout)
    return answer


def a_real_outbox(data: Path, minutes: int) -> None:
    start = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
    outbox = Outbox(data)
    outbox.commit([Slot(start=start + timedelta(minutes=i), tracked_s=60, active_s=60, idle_s=0, break_s=0,
                        input_s=30, keys=i, clicks=1, scrolls=0, mouse_px=10) for i in range(minutes)], "{}")
    outbox.close()


def garbage(data: Path) -> None:
    (data / "outbox.sqlite3").write_bytes(b"this is not a database \x00\xff" * 300)


def truncated(data: Path) -> None:
    a_real_outbox(data, 400)
    path = data / "outbox.sqlite3"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])


def damaged_page(data: Path) -> None:
    """A well-formed header with a b-tree page overwritten: opens fine, fails ``PRAGMA quick_check``."""
    a_real_outbox(data, 400)
    path = data / "outbox.sqlite3"
    content = bytearray(path.read_bytes())
    page = 4096
    content[3 * page: 3 * page + 200] = b"\xa5" * 200
    path.write_bytes(bytes(content))


@pytest.mark.parametrize("damage", [garbage, truncated, damaged_page], ids=lambda f: f.__name__)
def test_corrupt_outbox_is_moved_aside_and_the_person_told(tmp_path: Path, damage: Callable[[Path], None]) -> None:
    env = environment(tmp_path)
    data = tmp_path / "data"
    data.mkdir()
    damage(data)
    (data / "outbox.sqlite3-wal").write_bytes(b"stale wal")
    damaged = {name: (data / name).read_bytes() for name in ("outbox.sqlite3", "outbox.sqlite3-wal")}
    stopped = status(env)  # before the agent runs: told, nothing moved yet
    assert f"{data / 'outbox.sqlite3'} is damaged" in str(stopped["outbox_error"])

    agent = subprocess.Popen([sys.executable, "-m", "staffpulse", "--headless", "--time-scale", "60",
                              "--idle-threshold", "30"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not (control.send(data, {"command": "status"}) or {}).get("pending"):
            assert agent.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        answer = status(env)
        assert answer["running"]
        notice = str(answer["notice"])
        assert str(data / "outbox.sqlite3") in notice and "moved aside" in notice
    finally:
        assert terminate(agent) == 0
    [moved] = list(data.glob("outbox-corrupt-*.sqlite3"))
    assert moved.read_bytes() == damaged["outbox.sqlite3"], "the damaged file is kept as it was"
    assert Path(f"{moved}-wal").read_bytes() == damaged["outbox.sqlite3-wal"]
    assert moved.name in notice
    log = (tmp_path / "logs" / "agent.log").read_text()
    assert f"the outbox {data / 'outbox.sqlite3'} is damaged" in log and moved.name in log
    with sqlite3.connect(data / "outbox.sqlite3") as db:
        assert db.execute("PRAGMA quick_check").fetchall() == [("ok",)]
        assert db.execute("SELECT count(*) FROM slot").fetchone()[0] >= 1, "the fresh outbox is in use"
    assert "notice" not in status(env), "a sound outbox gives no notice"


@pytest.mark.parametrize(("content", "field"), [
    (b"{not json", "file"),
    (b'{"server_url": "ftp://pulse.example.com"}', "server_url"),
    (b'{"idle_threshold_s": "five"}', "idle_threshold_s"),
    (b"\xff\xfe\x00garbage", "file"),
], ids=["invalid-json", "bad-url", "bad-number", "binary"])
def test_corrupt_settings_stop_the_agent_naming_file_and_field(tmp_path: Path, content: bytes, field: str) -> None:
    env = environment(tmp_path)
    data = tmp_path / "data"
    data.mkdir()
    settings = data / "settings.json"
    settings.write_bytes(content)
    done = staffpulse(env, "--headless")
    assert done.returncode == 2, done.stderr
    assert f"staffpulse: {settings}: {field}: " in done.stderr
    assert f"{settings}: {field}: " in (tmp_path / "logs" / "agent.log").read_text()
    assert settings.read_bytes() == content, "the broken file is left for the person or IT to fix"
    assert not (data / "outbox.sqlite3").exists(), "nothing started"
