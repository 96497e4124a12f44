"""End to end under Xvfb: the real headless agent, real X input injected with xdotool."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from agent_harness import read_slots, start_agent, xdotool

from agent.idle._x11 import X11Idle

pytestmark = pytest.mark.x11


def test_counts_exactly_the_keys_and_clicks_injected_in_the_right_minutes(
    x_env: dict[str, str], tmp_path: Path
) -> None:
    agent = start_agent(tmp_path, x_env, "--idle-threshold", "30")
    agent.wait_for_log("state active")
    begin = time.time()
    text = "thequickbrownfoxjumps"  # lower case letters only: one key press each, no shift
    xdotool(x_env, "type", "--delay", "15", text)
    xdotool(x_env, "click", "--repeat", "7", "--delay", "30", "1")
    xdotool(x_env, "mousemove", "10", "10")
    xdotool(x_env, "mousemove", "310", "410")
    xdotool(x_env, "click", "4")  # one wheel tick up
    end = time.time()
    agent.stop()  # at once: the stop itself reads the counter once more

    slots = [json.loads(body) for body in read_slots(agent.data).values()]
    assert sum(s["keys"] for s in slots) == len(text)
    assert sum(s["clicks"] for s in slots) == 7
    assert sum(s["scrolls"] for s in slots) == 1
    assert sum(s["mouse_px"] for s in slots) >= 500  # (10,10) -> (310,410)
    first_minute, last_minute = int(begin) // 60 * 60, (int(end) + 2) // 60 * 60
    with_input = [start for start, body in read_slots(agent.data).items() if json.loads(body)["keys"]]
    assert with_input
    assert all(first_minute <= start <= last_minute for start in with_input)
    assert sum(s["input_s"] for s in slots) >= 1
    assert "agent stopped" in agent.log_text()


def test_keys_typed_just_before_a_clean_stop_are_all_stored(x_env: dict[str, str], tmp_path: Path) -> None:
    """SIGTERM right after the last key, well inside one 1-second sample: the stop reads the counter once more
    instead of ending with the last sample (which lost every one of these keys). Three runs, each its own."""
    text = "abcdefghij" * 5
    for run in range(3):
        agent = start_agent(tmp_path / f"run{run}", x_env, "--idle-threshold", "30")
        agent.wait_for_log("state active")
        xdotool(x_env, "type", "--delay", "25", text)  # a fast typist's pace
        agent.stop()
        assert sum(json.loads(body)["keys"] for body in read_slots(agent.data).values()) == len(text), run


def test_the_first_mouse_movement_after_a_start_is_measured(x_env: dict[str, str], tmp_path: Path) -> None:
    """The counter starts from the pointer's position at start, so the first move already has a length."""
    for run in range(2):
        xdotool(x_env, "mousemove", "100", "100")
        agent = start_agent(tmp_path / f"run{run}", x_env, "--idle-threshold", "30")
        agent.wait_for_log("state active")
        xdotool(x_env, "mousemove", "100", "200")
        agent.stop()
        assert [json.loads(body)["mouse_px"] for body in read_slots(agent.data).values()] == [100], run


def test_x_idle_time_rises_without_input_and_resets_on_input(
    x_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "XDG_SESSION_TYPE", "XDG_SESSION_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DISPLAY", x_env["DISPLAY"])
    backend = X11Idle.load()
    xdotool(x_env, "mousemove", "50", "50")
    first = backend.idle_seconds()
    time.sleep(1.2)
    second = backend.idle_seconds()
    assert second >= first + 1.0
    xdotool(x_env, "mousemove", "60", "60")
    assert backend.idle_seconds() < 0.5
    assert not backend.locked()


def test_typed_text_never_reaches_any_file_the_agent_writes(x_env: dict[str, str], tmp_path: Path) -> None:
    secret = "zebrafalconquartzmaple"
    agent = start_agent(tmp_path, x_env, "--idle-threshold", "2")
    agent.wait_for_log("agent started")  # the listeners run (it may start idle: the display was quiet for 2 s)
    xdotool(x_env, "type", "--delay", "10", secret)
    agent.wait_for(lambda: agent.log_text().rfind("state idle") > agent.log_text().rfind("state active") >= 0,
                   "idle after the typing")  # a commit happened after the typing
    agent.kill()  # kill -9 leaves the WAL and shared-memory files behind, which must be clean too
    files = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert any(path.name.endswith("-wal") for path in files)
    for path in files:
        content = path.read_bytes()
        for needle in (secret, secret[:8], secret[::-1][:8]):
            for encoded in (needle.encode(), needle.encode("utf-16-le")):
                assert encoded not in content, f"{needle!r} found in {path}"
    assert sum(json.loads(b)["keys"] for b in read_slots(agent.data).values()) <= len(secret)
    assert os.path.getsize(agent.logs / "agent.log") > 0
