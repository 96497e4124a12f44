"""How long since the user last touched keyboard or mouse, and whether the screen is locked, asked of the OS.

One sibling module per OS (``_windows``, ``_macos``, ``_x11``), each a class with a ``load()`` that binds the
native calls via ctypes; ``select_backend`` is the one place that picks among them. Where none works (Wayland,
no display, a missing library) the agent falls back to the time since the last event its own listeners saw.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Protocol

from agent.errors import IdleUnavailable

log = logging.getLogger(__name__)


class IdleBackend(Protocol):
    def idle_seconds(self) -> float:
        """Seconds since the last keyboard or mouse input anywhere in the session."""
        ...

    def locked(self) -> bool:
        """True while the session's screen is locked (the person counts as away)."""
        ...


def select_backend(system: str) -> Callable[[], IdleBackend]:
    """The loader of the idle backend for ``system`` (a ``sys.platform`` value); calling it may raise
    ``IdleUnavailable``. Importing a backend on another OS is safe; only loading touches native libraries."""
    if system == "win32":
        from agent.idle._windows import WindowsIdle

        return WindowsIdle.load
    if system == "darwin":
        from agent.idle._macos import MacIdle

        return MacIdle.load
    from agent.idle._x11 import X11Idle

    return X11Idle.load


class SinceLastEvent:
    """Fallback: the time since the agent's own listeners last saw input (or since the agent started)."""

    def __init__(self, last_event: Callable[[], float | None], monotonic: Callable[[], float]) -> None:
        self._last_event = last_event
        self._monotonic = monotonic
        self._started = monotonic()

    def idle_seconds(self) -> float:
        last = self._last_event()
        return self._monotonic() - (self._started if last is None else last)

    def locked(self) -> bool:
        return False


def open_backend(fallback: IdleBackend, system: str = sys.platform) -> IdleBackend:
    """The OS backend for this machine, or ``fallback`` after one warning saying why."""
    try:
        return select_backend(system)()
    except IdleUnavailable as error:
        log.warning("OS idle time unavailable (%s); using the time since the last input event seen", error)
        return fallback
