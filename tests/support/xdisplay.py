"""A private Xvfb server for tests that need a real X display (input injection, tray hosts)."""

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
