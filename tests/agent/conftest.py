"""Fixtures for the agent tests: a real Xvfb display."""

from __future__ import annotations

import os

import pytest


@pytest.fixture
def x_env(x_display: str) -> dict[str, str]:
    """Environment for subprocesses that talk to the Xvfb display (and never to a Wayland compositor)."""
    env = {k: v for k, v in os.environ.items() if k not in ("WAYLAND_DISPLAY", "XDG_SESSION_TYPE", "XDG_SESSION_ID")}
    env["DISPLAY"] = x_display
    return env
