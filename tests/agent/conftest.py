"""Fixtures for the agent tests: a real Xvfb display."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from support.xdisplay import start_xvfb


@pytest.fixture(scope="session")
def x_display() -> Iterator[str]:
    """A private Xvfb server on a free display number (Xvfb picks it and reports it through -displayfd)."""
    server, display = start_xvfb()
    yield display
    server.terminate()
    server.wait(10)


@pytest.fixture
def x_env(x_display: str) -> dict[str, str]:
    """Environment for subprocesses that talk to the Xvfb display (and never to a Wayland compositor)."""
    env = {k: v for k, v in os.environ.items() if k not in ("WAYLAND_DISPLAY", "XDG_SESSION_TYPE", "XDG_SESSION_ID")}
    env["DISPLAY"] = x_display
    return env
