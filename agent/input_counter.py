"""Counts keyboard and mouse input with pynput listeners: how many, never which.

The callbacks run on pynput's threads for every event (a moving mouse sends hundreds a second), so each one
only bumps a number: the key argument is dropped on the spot, nothing is logged per event. Each counter has a
single writer thread and only grows; the runner reads totals and takes differences, so no lock is needed.

Input can only be counted under X11, Windows and macOS. On Wayland, or with no display at all, the counter
says so once and stays at zero; the agent keeps running on the OS idle time alone.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

from agent.slots import InputCounts

log = logging.getLogger(__name__)

#: How long a stop waits at most for input the OS already saw to reach the listeners' threads.
CATCH_UP_S = 1.0
#: The X extensions pynput uses (1.8.2, python-xlib 0.33): its listeners RECORD, its controllers XTEST.
PYNPUT_X_EXTENSIONS = ("RECORD", "XTEST")
#: The OS idle clocks tick in steps of up to ~16 ms (Windows' tick count): an event this close to the OS's last
#: input is that input.
CATCH_UP_TOLERANCE_S = 0.02


def unavailable_reason(environ: Mapping[str, str] = os.environ, system: str = sys.platform) -> str | None:
    """Why input cannot be counted on this session, or None when it can."""
    if system in ("win32", "darwin"):
        return None
    if environ.get("WAYLAND_DISPLAY") or environ.get("XDG_SESSION_TYPE") == "wayland":
        return "this is a Wayland session, which does not let applications observe global input"
    if not environ.get("DISPLAY"):
        return "there is no X display (DISPLAY is not set)"
    return None


def _only_the_x_extensions_pynput_uses(system: str = sys.platform) -> None:
    """python-xlib's ``Display()`` imports and binds every extension the X server offers (composite, damage,
    randr, xinput, xfixes, shape, …: about 1 MiB for each agent, docs/agent.md "Memory"), from its module list
    ``Xlib.ext.__extensions__``; pynput opens its displays itself, so that list is cut to what pynput uses, for
    the whole process (nothing else in the agent uses python-xlib). tests/test_agent_pins.py pins it."""
    if system in ("win32", "darwin"):
        return
    import Xlib.ext

    Xlib.ext.__extensions__[:] = [entry for entry in Xlib.ext.__extensions__ if entry[0] in PYNPUT_X_EXTENSIONS]


class InputCounter:
    def __init__(self, monotonic: Callable[[], float]) -> None:
        self._monotonic = monotonic
        self._keys = 0
        self._clicks = 0
        self._scrolls = 0
        self._distance = 0.0
        self._position: tuple[int, int] | None = None
        self.last_event: float | None = None  # monotonic time of the latest event, for the fallback idle time
        self._listeners: list[Any] = []
        self._started: float | None = None

    def start(self) -> bool:
        """Start the listeners; False (after one clear warning) when input cannot be counted here."""
        reason = unavailable_reason()
        if reason is None:
            try:
                _only_the_x_extensions_pynput_uses()
                from pynput import keyboard, mouse
            except ImportError as error:
                reason = f"pynput cannot reach the input system ({error})"
        if reason is not None:
            log.warning("input counting unavailable: %s; keys, clicks and mouse movement will read 0", reason)
            return False
        self._started = self._monotonic()
        self._position = _pointer_position(mouse)
        self._listeners = [
            keyboard.Listener(on_press=self._on_press, on_release=self._on_release),
            mouse.Listener(on_move=self._on_move, on_click=self._on_click, on_scroll=self._on_scroll),
        ]
        for listener in self._listeners:
            listener.daemon = True
            listener.start()
        for listener in self._listeners:
            listener.wait()
        return True

    def stop(self) -> None:
        for listener in self._listeners:
            listener.stop()

    def catch_up(self, last_input: float, timeout: float = CATCH_UP_S) -> bool:
        """Wait until the listeners have counted an event at least as recent as ``last_input`` (monotonic: the
        OS's last input), at most ``timeout`` seconds. The OS hands events to the listeners' threads
        asynchronously, and on a busy machine those lag behind: a stop right after the last key would
        otherwise end without it. False (after a log line) when they did not catch up in time."""
        if self._started is None or last_input <= self._started:
            return True  # not counting, or nothing happened since the listeners started
        deadline = self._monotonic() + timeout
        while self.last_event is None or self.last_event < last_input - CATCH_UP_TOLERANCE_S:
            if self._monotonic() >= deadline:
                log.info("the last input the OS saw had not reached the input counter after %.1f s", timeout)
                return False
            time.sleep(0.005)
        return True

    def totals(self) -> InputCounts:
        """Counts since start; the runner subtracts the previous totals to get one step's input."""
        return InputCounts(self._keys, self._clicks, self._scrolls, round(self._distance))

    # pynput callbacks. Extra arguments (the key, the button, `injected`) are accepted and ignored.

    def _on_press(self, *_: object) -> None:
        self._keys += 1
        self.last_event = self._monotonic()

    def _on_release(self, *_: object) -> None:
        """Not counted, but it is input to the OS too: ``catch_up`` compares the OS's last input with this."""
        self.last_event = self._monotonic()

    def _on_click(self, _x: int, _y: int, _button: object, pressed: bool, *_: object) -> None:
        if pressed:
            self._clicks += 1
        self.last_event = self._monotonic()

    def _on_scroll(self, _x: int, _y: int, dx: int, dy: int, *_: object) -> None:
        self._scrolls += abs(dx) + abs(dy)
        self.last_event = self._monotonic()

    def _on_move(self, x: int, y: int, *_: object) -> None:
        if self._position is not None:
            self._distance += math.hypot(x - self._position[0], y - self._position[1])
        self._position = (x, y)
        self.last_event = self._monotonic()


def _pointer_position(mouse: Any) -> tuple[int, int] | None:
    """Where the pointer is, read before the listeners start, so the first movement has a length to measure."""
    try:
        x, y = mouse.Controller().position
    except Exception as error:  # broad: each OS backend raises its own errors, and only the first move is at stake
        log.info("cannot read the pointer position (%s); the first mouse movement will not be measured", error)
        return None
    return int(x), int(y)
