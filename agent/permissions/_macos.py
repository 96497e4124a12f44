"""macOS: Accessibility via ``AXIsProcessTrusted`` (ApplicationServices), Input Monitoring via
``IOHIDCheckAccess`` / ``IOHIDRequestAccess`` (IOKit, macOS 10.15+), bound with ctypes: no PyObjC needed.

The native functions are injected, so the logic runs under test on Linux with fakes. Requesting Input
Monitoring shows the system's own prompt once; Accessibility has no such call without CoreFoundation
dictionaries, so it opens the settings pane instead.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import subprocess
from collections.abc import Callable

from agent.permissions import Permission

LISTEN_EVENT = 1  # kIOHIDRequestTypeListenEvent
GRANTED = 0  # kIOHIDAccessTypeGranted
PANES = {
    Permission.ACCESSIBILITY: "x-apple.systempreferences:com.apple.preference.security?Privacy_Accessibility",
    Permission.INPUT_MONITORING: "x-apple.systempreferences:com.apple.preference.security?Privacy_ListenEvent",
}


def _open_url(url: str) -> None:
    subprocess.Popen(["/usr/bin/open", url])  # returns at once; the settings app opens on its own


class MacPermissions:
    def __init__(self, ax_is_trusted: Callable[[], bool], hid_check_access: Callable[[int], int],
                 hid_request_access: Callable[[int], bool], open_url: Callable[[str], None] = _open_url) -> None:
        self._ax_is_trusted, self._hid_check, self._hid_request = ax_is_trusted, hid_check_access, hid_request_access
        self._open_url = open_url

    @classmethod
    def load(cls) -> MacPermissions:
        """Bind the native functions; raises OSError where the frameworks do not exist."""
        services = ctypes.cdll.LoadLibrary(ctypes.util.find_library("ApplicationServices") or "ApplicationServices")
        iokit = ctypes.cdll.LoadLibrary(ctypes.util.find_library("IOKit") or "IOKit")
        services.AXIsProcessTrusted.restype = ctypes.c_bool
        iokit.IOHIDCheckAccess.restype = ctypes.c_uint32
        iokit.IOHIDCheckAccess.argtypes = [ctypes.c_uint32]
        iokit.IOHIDRequestAccess.restype = ctypes.c_bool
        iokit.IOHIDRequestAccess.argtypes = [ctypes.c_uint32]
        return cls(services.AXIsProcessTrusted, iokit.IOHIDCheckAccess, iokit.IOHIDRequestAccess)

    def granted(self, permission: Permission) -> bool:
        if permission is Permission.ACCESSIBILITY:
            return bool(self._ax_is_trusted())
        return self._hid_check(LISTEN_EVENT) == GRANTED

    def request(self, permission: Permission) -> None:
        if permission is Permission.INPUT_MONITORING and self._hid_request(LISTEN_EVENT):
            return
        self._open_url(PANES[permission])
