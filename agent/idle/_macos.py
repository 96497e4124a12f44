"""macOS: CGEventSourceSecondsSinceLastEventType from CoreGraphics, and the session's screen-lock flag from
CGSessionCopyCurrentDictionary, via ctypes (no PyObjC needed)."""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from collections.abc import Callable

from agent.errors import IdleUnavailable

_COMBINED_SESSION_STATE = 0
_ANY_INPUT_EVENT = 0xFFFFFFFF
_UTF8 = 0x08000100


class MacIdle:
    def __init__(
        self,
        seconds_since_last_event: Callable[[int, int], float],
        screen_locked: Callable[[], bool],
    ) -> None:
        self._seconds_since_last_event = seconds_since_last_event
        self._screen_locked = screen_locked

    @classmethod
    def load(cls) -> MacIdle:
        if sys.platform != "darwin":
            raise IdleUnavailable("the macOS backend needs macOS")
        else:
            graphics = ctypes.CDLL(ctypes.util.find_library("CoreGraphics") or "CoreGraphics")
            foundation = ctypes.CDLL(ctypes.util.find_library("CoreFoundation") or "CoreFoundation")
            since = graphics.CGEventSourceSecondsSinceLastEventType
            since.restype, since.argtypes = ctypes.c_double, [ctypes.c_int32, ctypes.c_uint32]
            graphics.CGSessionCopyCurrentDictionary.restype = ctypes.c_void_p
            foundation.CFStringCreateWithCString.restype = ctypes.c_void_p
            foundation.CFStringCreateWithCString.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint32]
            foundation.CFDictionaryGetValue.restype = ctypes.c_void_p
            foundation.CFDictionaryGetValue.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
            foundation.CFBooleanGetValue.argtypes = [ctypes.c_void_p]
            foundation.CFRelease.argtypes = [ctypes.c_void_p]
            key = foundation.CFStringCreateWithCString(None, b"CGSSessionScreenIsLocked", _UTF8)

            def screen_locked() -> bool:
                session = graphics.CGSessionCopyCurrentDictionary()
                if not session:
                    return False  # no window-server session: nothing is locked in front of anyone
                try:
                    value = foundation.CFDictionaryGetValue(session, key)
                    return bool(value) and bool(foundation.CFBooleanGetValue(value))
                finally:
                    foundation.CFRelease(session)

            return cls(since, screen_locked)

    def idle_seconds(self) -> float:
        return float(self._seconds_since_last_event(_COMBINED_SESSION_STATE, _ANY_INPUT_EVENT))

    def locked(self) -> bool:
        return self._screen_locked()
