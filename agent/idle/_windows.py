"""Windows: GetLastInputInfo against GetTickCount, via ctypes.

Both are 32-bit millisecond tick counts that wrap every 49.7 days; the difference is taken modulo 2**32, which
stays right across the wrap. The session is locked when the input desktop cannot be opened (the secure
desktop of the lock screen belongs to another session).
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable
from typing import Any

from agent.errors import IdleUnavailable

_WRAP = 2**32
_DESKTOP_SWITCHDESKTOP = 0x0100


class LASTINPUTINFO(ctypes.Structure):
    _fields_ = [("cbSize", ctypes.c_uint), ("dwTime", ctypes.c_uint)]


class WindowsIdle:
    def __init__(
        self,
        get_last_input_info: Callable[[Any], int],
        get_tick_count: Callable[[], int],
        open_input_desktop: Callable[[int, bool, int], int],
        close_desktop: Callable[[int], int],
    ) -> None:
        self._get_last_input_info = get_last_input_info
        self._get_tick_count = get_tick_count
        self._open_input_desktop = open_input_desktop
        self._close_desktop = close_desktop
        self._info = LASTINPUTINFO(ctypes.sizeof(LASTINPUTINFO), 0)

    @classmethod
    def load(cls) -> WindowsIdle:
        if sys.platform != "win32":
            raise IdleUnavailable("the Windows backend needs Windows")
        else:
            user32, kernel32 = ctypes.WinDLL("user32"), ctypes.WinDLL("kernel32")
            kernel32.GetTickCount.restype = ctypes.c_uint
            user32.OpenInputDesktop.restype = ctypes.c_void_p
            return cls(user32.GetLastInputInfo, kernel32.GetTickCount, user32.OpenInputDesktop, user32.CloseDesktop)

    def idle_seconds(self) -> float:
        if not self._get_last_input_info(ctypes.byref(self._info)):
            raise IdleUnavailable("GetLastInputInfo failed")
        last: int = self._info.dwTime
        return ((self._get_tick_count() - last) % _WRAP) / 1000.0

    def locked(self) -> bool:
        desktop = self._open_input_desktop(0, False, _DESKTOP_SWITCHDESKTOP)
        if not desktop:
            return True
        self._close_desktop(desktop)
        return False
