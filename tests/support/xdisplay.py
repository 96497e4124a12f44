"""A private Xvfb server for tests that need a real X display (input injection, tray hosts), and what tests ask
the X server about the windows on it."""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import time

import pytest
import Xlib.display
import Xlib.X


def need_tool(name: str) -> str:
    """Fail, never skip: scripts/test installs these (xvfb, xdotool, trayer)."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: scripts/test installs it (apt-get install xvfb xdotool trayer)")
    return path


def start_xvfb() -> tuple[subprocess.Popen[bytes], str]:
    """Xvfb on a free display number (Xvfb picks it and reports it through -displayfd); returns it and ":N"."""
    read_end, write_end = os.pipe()
    server = subprocess.Popen(
        [need_tool("Xvfb"), "-displayfd", str(write_end), "-screen", "0", "1280x1024x24", "-nolisten", "tcp",
         "-noreset"],  # keep settings (autorepeat off) when the last client disconnects
        pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_end)
    number = b""
    deadline = time.monotonic() + 15
    while not number.endswith(b"\n"):
        ready, _, _ = select.select([read_end], [], [], max(0.0, deadline - time.monotonic()))
        chunk = os.read(read_end, 16) if ready else b""
        if not chunk:
            server.kill()
            server.wait()
            pytest.fail("Xvfb did not report a display number")
        number += chunk
    os.close(read_end)
    display = f":{number.decode().strip()}"
    _no_autorepeat(display)
    return server, display


def start_tray_host(display: str) -> subprocess.Popen[bytes]:
    """trayer, a real system tray (it owns ``_NET_SYSTEM_TRAY_S0``), on ``display``: a desktop with a panel."""
    return subprocess.Popen([need_tool("trayer"), "--edge", "top", "--align", "right", "--height", "24",
                             "--widthtype", "request"], env={**os.environ, "DISPLAY": display},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _no_autorepeat(display: str) -> None:
    """Turn key autorepeat off (``xset r off``). On a loaded machine xdotool can be descheduled between a key's
    press and release for longer than the repeat delay (660 ms); the server then types repeats, as for a held
    key, and a test that counts exactly the keys it pressed sees more."""
    connection = Xlib.display.Display(display)
    try:
        connection.change_keyboard_control(auto_repeat_mode=Xlib.X.AutoRepeatModeOff)
        connection.sync()
    finally:
        connection.close()


def named_windows(display: str, name: str) -> list[int]:
    """The ids of the mapped windows called ``name`` anywhere in the window tree (Wine maps each top-level Win32
    window to one)."""
    connection = Xlib.display.Display(display)
    try:
        found, pending = [], [connection.screen().root]
        while pending:
            window = pending.pop()
            pending.extend(window.query_tree().children)
            if window.get_wm_name() == name and window.get_attributes().map_state == Xlib.X.IsViewable:
                found.append(window.id)
        return found
    finally:
        connection.close()


def window_class(display: str, window: int) -> tuple[str, str] | None:
    """``WM_CLASS`` (instance, class): whose window it is; Wine sets the program's name, e.g. ``python.exe``."""
    connection = Xlib.display.Display(display)
    try:
        found: tuple[str, str] | None = connection.create_resource_object("window", window).get_wm_class()
        return found
    finally:
        connection.close()


def capture(display: str, window: int) -> tuple[int, int, bytes]:
    """What the window shows now, as the X server has it: width, height and 32-bit BGRX pixels, row by row."""
    connection = Xlib.display.Display(display)
    try:
        drawable = connection.create_resource_object("window", window)
        size = drawable.get_geometry()
        image = drawable.get_image(0, 0, size.width, size.height, Xlib.X.ZPixmap, 0xFFFFFFFF)
        return size.width, size.height, bytes(image.data)
    finally:
        connection.close()
