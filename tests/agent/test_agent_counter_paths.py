"""The input counter's callbacks (cheap, identity-free) and where the agent keeps its files."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from agent import paths
from agent.input_counter import InputCounter
from agent.slots import InputCounts


class SecretKey:
    """Stands in for a pynput key object; the counter must not keep it anywhere."""

    char = "s"


def test_callbacks_count_presses_clicks_ticks_and_pixels() -> None:
    counter = InputCounter(time.monotonic)
    counter._on_press(SecretKey(), False)
    counter._on_press(SecretKey())
    counter._on_click(1, 2, "left", True, False)
    counter._on_click(1, 2, "left", False, False)  # the release is not a click
    counter._on_scroll(0, 0, 0, -2, False)
    counter._on_move(0, 0, False)
    counter._on_move(3, 4, False)
    assert counter.totals() == InputCounts(keys=2, clicks=1, scrolls=2, mouse_px=5)
    assert counter.last_event is not None


def test_key_identity_never_stays_in_the_counter() -> None:
    counter = InputCounter(time.monotonic)
    key = SecretKey()
    counter._on_press(key)
    assert all(value is not key for value in vars(counter).values())


def test_moves_add_up_to_the_path_length_with_nothing_logged_or_kept_per_event(
        caplog: pytest.LogCaptureFixture) -> None:
    """The per-event path only adds numbers (its cost per event is printed by bench/input_callbacks.py)."""
    caplog.set_level(logging.DEBUG)
    counter = InputCounter(time.monotonic)
    counter._on_move(0, 0, False)
    for i in range(1, 20_001):  # a staircase: 10,000 steps of 3 px right, 10,000 of 4 px down
        counter._on_move(3 * ((i + 1) // 2), 4 * (i // 2), False)
    assert counter.totals() == InputCounts(mouse_px=10_000 * 3 + 10_000 * 4)
    assert caplog.records == []


def test_data_and_log_dirs_follow_argument_then_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STAFFPULSE_DATA_DIR", str(tmp_path / "env-data"))
    monkeypatch.setenv("STAFFPULSE_LOG_DIR", str(tmp_path / "env-logs"))
    assert paths.data_dir() == tmp_path / "env-data"
    assert paths.log_dir() == tmp_path / "env-logs"
    assert paths.data_dir(tmp_path / "arg") == tmp_path / "arg"
    assert (tmp_path / "env-data").is_dir()
    monkeypatch.delenv("STAFFPULSE_DATA_DIR")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert paths.data_dir() == tmp_path / "xdg" / "StaffPulse"
