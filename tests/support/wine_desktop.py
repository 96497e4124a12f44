"""What the tests that drive Windows programs under Wine on an X display share (tests/windows, tests/installer):
waiting for a condition with a deadline, xdotool on the prefix's display, Wine's notepad holding the keyboard
focus, Wine's tray window, the user's %LOCALAPPDATA%, and the HKLM policy values written as the MSI writes them.

Wine sees X input only through its own windows, as Windows apps see input while they have focus, so tests type
and click into ``notepad``; there is no window manager on the test display to give it the focus, so xdotool does.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

from installer import lifecycle_checks
from support.wine import WinePrefix
from support.xdisplay import need_tool

T = TypeVar("T")
POLICY_KEY = rf"HKLM\{lifecycle_checks.POLICY_KEY}"
#: The X window explorer.exe puts the shell's tray in when no X tray host runs: it maps once an icon is in it.
WINE_TRAY = "Wine System Tray"


def wait_until(condition: Callable[[], T], what: str | Callable[[], str], timeout: float = 60, pause: float = 0.05,
               process: subprocess.Popen[str] | None = None) -> T:
    """Poll ``condition`` until it returns something truthy, and return that; fail naming ``what`` (or what it
    returns then, to show the last state seen) after ``timeout`` seconds (generous: the machine is shared, and
    Windows processes under Wine start slowly when both cores are busy), or as soon as ``process`` (the program
    the condition waits on) has ended."""
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        if process is not None and process.poll() is not None:
            output = process.communicate(timeout=30)[1] or ""
            pytest.fail(f"the program ended ({process.returncode}) before {_said(what)}: {output[-3000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {_said(what)}")
        time.sleep(pause)
    return found


def _said(what: str | Callable[[], str]) -> str:
    return what if isinstance(what, str) else what()


def xdotool(wine: WinePrefix, *args: str, check: bool = True) -> str:
    """``xdotool args…`` on the prefix's display; its output. ``check=False`` for a search, which fails while
    nothing matches."""
    done = subprocess.run([need_tool("xdotool"), *args], env=wine.env(), capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 or not check, done.stderr
    return done.stdout


@dataclass
class Window:
    """A top-level window: its X id and where it is on the screen."""

    id: str
    x: int
    y: int
    width: int
    height: int


@contextmanager
def focused_notepad(wine: WinePrefix) -> Iterator[Window]:
    """Wine's notepad, shown, holding the keyboard focus and with the pointer over it, until the block ends."""
    with wine.popen(["notepad"]) as process:
        try:
            found = wait_until(
                lambda: xdotool(wine, "search", "--onlyvisible", "--name", "Notepad", check=False).split(),
                "notepad's window", process=process)
            xdotool(wine, "windowfocus", "--sync", found[0])
            shape = dict(line.split("=", 1) for line in xdotool(wine, "getwindowgeometry", "--shell", found[0]).split())
            window = Window(found[0], int(shape["X"]), int(shape["Y"]), int(shape["WIDTH"]), int(shape["HEIGHT"]))
            xdotool(wine, "mousemove", str(window.x + 200), str(window.y + 200))
            yield window
        finally:
            process.kill()


def local_app_data(wine: WinePrefix) -> Path:
    """%LOCALAPPDATA% in the prefix, as a Linux path (Wine's profile is named for the Linux user)."""
    (profile,) = [path for path in (wine.drive_c / "users").iterdir() if path.name != "Public"]
    return profile / "AppData" / "Local"


def write_policy(wine: WinePrefix, values: dict[str, tuple[str, str]]) -> None:
    """``reg add`` each value (name → (type, data)) under HKLM's policy key, as the MSI's Registry table does."""
    for name, (kind, data) in values.items():
        done = wine.run(["reg", "add", POLICY_KEY, "/v", name, "/t", kind, "/d", data, "/f"], timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
