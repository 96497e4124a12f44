"""OS idle backends with the native calls faked, and the one place that picks a backend."""

from __future__ import annotations

import ctypes
from typing import Any

import pytest

from agent.errors import IdleUnavailable
from agent.idle import SinceLastEvent, open_backend, select_backend
from agent.idle._macos import MacIdle
from agent.idle._windows import LASTINPUTINFO, WindowsIdle
from agent.idle._x11 import X11Idle
from agent.input_counter import unavailable_reason


def test_select_backend_names_one_backend_per_os() -> None:
    assert select_backend("win32") == WindowsIdle.load
    assert select_backend("darwin") == MacIdle.load
    assert select_backend("linux") == X11Idle.load
    assert select_backend("freebsd14") == X11Idle.load


@pytest.mark.parametrize("system", ["win32", "darwin"])
def test_foreign_backends_refuse_to_load_here(system: str) -> None:
    with pytest.raises(IdleUnavailable):
        select_backend(system)()


def fake_windows(last_input_tick: int, now_tick: int, *, desktop: int = 7) -> tuple[WindowsIdle, list[int]]:
    closed: list[int] = []

    def get_last_input_info(pointer: Any) -> int:
        info = ctypes.cast(pointer, ctypes.POINTER(LASTINPUTINFO)).contents
        assert info.cbSize == ctypes.sizeof(LASTINPUTINFO)
        info.dwTime = last_input_tick
        return 1

    def close_desktop(handle: int) -> int:
        closed.append(handle)
        return 1

    return WindowsIdle(get_last_input_info, lambda: now_tick, lambda *_: desktop, close_desktop), closed


def test_windows_idle_is_the_tick_difference() -> None:
    backend, _ = fake_windows(last_input_tick=1_000, now_tick=6_500)
    assert backend.idle_seconds() == 5.5


def test_windows_idle_survives_the_49_day_tick_wrap() -> None:
    backend, _ = fake_windows(last_input_tick=2**32 - 1_000, now_tick=2_000)
    assert backend.idle_seconds() == 3.0


def test_windows_failed_call_raises() -> None:
    backend = WindowsIdle(lambda _: 0, lambda: 0, lambda *_: 1, lambda _: 1)
    with pytest.raises(IdleUnavailable):
        backend.idle_seconds()


def test_windows_lock_is_an_input_desktop_we_cannot_open() -> None:
    unlocked, closed = fake_windows(0, 0, desktop=42)
    assert not unlocked.locked()
    assert closed == [42]
    locked, closed = fake_windows(0, 0, desktop=0)
    assert locked.locked()
    assert closed == []


def test_macos_backend_asks_for_any_input_in_the_combined_session() -> None:
    calls: list[tuple[int, int]] = []

    def since(state: int, event_type: int) -> float:
        calls.append((state, event_type))
        return 12.25

    backend = MacIdle(since, lambda: True)
    assert backend.idle_seconds() == 12.25
    assert calls == [(0, 0xFFFFFFFF)]
    assert backend.locked()


def test_x11_refuses_wayland_and_missing_display(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    with pytest.raises(IdleUnavailable, match="Wayland"):
        X11Idle.load()
    monkeypatch.delenv("WAYLAND_DISPLAY")
    monkeypatch.delenv("XDG_SESSION_TYPE", raising=False)
    monkeypatch.delenv("DISPLAY", raising=False)
    with pytest.raises(IdleUnavailable, match="DISPLAY"):
        X11Idle.load()


def test_no_display_falls_back_to_the_last_event_with_one_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    now = [100.0]
    last: list[float | None] = [None]
    fallback = SinceLastEvent(lambda: last[0], lambda: now[0])
    assert open_backend(fallback, "linux") is fallback
    assert caplog.text.count("OS idle time unavailable") == 1
    now[0] = 130.0
    assert fallback.idle_seconds() == 30.0
    last[0] = 125.0
    assert fallback.idle_seconds() == 5.0
    assert not fallback.locked()


def test_input_counting_is_unavailable_on_wayland_and_without_a_display() -> None:
    assert unavailable_reason({"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}, "linux") is not None
    assert unavailable_reason({"XDG_SESSION_TYPE": "wayland"}, "linux") is not None
    assert unavailable_reason({}, "linux") is not None
    assert unavailable_reason({"DISPLAY": ":0"}, "linux") is None
    assert unavailable_reason({}, "win32") is None
    assert unavailable_reason({}, "darwin") is None
