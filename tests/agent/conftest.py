"""Fixtures for the agent tests: a real Xvfb display."""

from __future__ import annotations

import os
import select
import subprocess
import time
from collections.abc import Iterator

import pytest
from agent_harness import need_tool


@pytest.fixture(scope="session")
def x_display() -> Iterator[str]:
    """A private Xvfb server on a free display number (Xvfb picks it and reports it through -displayfd)."""
    read_end, write_end = os.pipe()
    server = subprocess.Popen(
        [need_tool("Xvfb"), "-displayfd", str(write_end), "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
        pass_fds=(write_end,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    number = b""
    deadline = time.monotonic() + 15
    while not number.endswith(b"\n"):
        ready, _, _ = select.select([read_end], [], [], max(0.0, deadline - time.monotonic()))
        chunk = os.read(read_end, 16) if ready else b""
        if not chunk:
            server.kill()
            pytest.fail("Xvfb did not report a display number")
        number += chunk
    os.close(read_end)
    yield f":{number.decode().strip()}"
    server.terminate()
    server.wait(10)


@pytest.fixture
def x_env(x_display: str) -> dict[str, str]:
    """Environment for subprocesses that talk to the Xvfb display (and never to a Wayland compositor)."""
    env = {k: v for k, v in os.environ.items() if k not in ("WAYLAND_DISPLAY", "XDG_SESSION_TYPE", "XDG_SESSION_ID")}
    env["DISPLAY"] = x_display
    return env
