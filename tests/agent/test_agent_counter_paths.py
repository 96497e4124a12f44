"""The input counter's callbacks (cheap, identity-free) and where the agent keeps its files."""

from __future__ import annotations

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


def test_a_thousand_moves_a_second_cost_well_under_a_percent_of_a_core() -> None:
    counter = InputCounter(time.monotonic)
    moves = 20_000
    start = time.process_time()
    for i in range(moves):
        counter._on_move(i % 7, i % 5, False)
    per_event = (time.process_time() - start) / moves
    assert per_event < 10e-6, f"{per_event * 1e6:.1f} µs per mouse move"


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
