"""X11: the XScreenSaver extension's idle counter (XScreenSaverQueryInfo in libXss), via ctypes.

Screen lock is read from logind's LockedHint for this session when there is one; it costs a subprocess, so it
is asked at most every ``_LOCK_EVERY`` seconds.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import subprocess
import time

from agent.errors import IdleUnavailable

_LOCK_EVERY = 10.0


class _XScreenSaverInfo(ctypes.Structure):
    _fields_ = [
        ("window", ctypes.c_ulong),
        ("state", ctypes.c_int),
        ("kind", ctypes.c_int),
        ("til_or_since", ctypes.c_ulong),
        ("idle", ctypes.c_ulong),  # milliseconds since the last input
        ("event_mask", ctypes.c_ulong),
    ]


def _library(name: str) -> ctypes.CDLL:
    path = ctypes.util.find_library(name)
    if path is None:
        raise IdleUnavailable(f"lib{name} is not installed")
    return ctypes.CDLL(path)


class X11Idle:
    def __init__(self, xlib: ctypes.CDLL, xss: ctypes.CDLL, display: int, session: str | None) -> None:
        self._xss = xss
        self._display = display
        self._root = xlib.XDefaultRootWindow(display)
        self._info = ctypes.cast(xss.XScreenSaverAllocInfo(), ctypes.POINTER(_XScreenSaverInfo))
        self._session = session
        self._locked = False
        self._lock_checked = -_LOCK_EVERY

    @classmethod
    def load(cls) -> X11Idle:
        if os.environ.get("WAYLAND_DISPLAY") or os.environ.get("XDG_SESSION_TYPE") == "wayland":
            raise IdleUnavailable("Wayland session: X11 idle time would only see XWayland windows")
        if not os.environ.get("DISPLAY"):
            raise IdleUnavailable("no X display (DISPLAY is not set)")
        xlib, xss = _library("X11"), _library("Xss")
        xlib.XOpenDisplay.restype = ctypes.c_void_p
        xlib.XOpenDisplay.argtypes = [ctypes.c_char_p]
        xlib.XDefaultRootWindow.restype = ctypes.c_ulong
        xlib.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
        xss.XScreenSaverAllocInfo.restype = ctypes.c_void_p
        xss.XScreenSaverQueryExtension.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
        xss.XScreenSaverQueryInfo.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_void_p]
        display = xlib.XOpenDisplay(None)
        if not display:
            raise IdleUnavailable(f"cannot open X display {os.environ['DISPLAY']!r}")
        event, error = ctypes.c_int(), ctypes.c_int()
        if not xss.XScreenSaverQueryExtension(display, ctypes.byref(event), ctypes.byref(error)):
            raise IdleUnavailable("the X server lacks the MIT-SCREEN-SAVER extension")
        session = os.environ.get("XDG_SESSION_ID") if shutil.which("loginctl") else None
        return cls(xlib, xss, display, session)

    def idle_seconds(self) -> float:
        if not self._xss.XScreenSaverQueryInfo(self._display, self._root, self._info):
            raise IdleUnavailable("XScreenSaverQueryInfo failed")
        return int(self._info.contents.idle) / 1000.0

    def locked(self) -> bool:
        if self._session is None:
            return False
        now = time.monotonic()
        if now - self._lock_checked >= _LOCK_EVERY:
            self._lock_checked = now
            result = subprocess.run(
                ["loginctl", "show-session", self._session, "--property=LockedHint", "--value"],
                capture_output=True,
                text=True,
                check=False,
                timeout=5,
            )
            self._locked = result.stdout.strip() == "yes"
        return self._locked
