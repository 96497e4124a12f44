"""Fixtures every suite may use: one private Xvfb for the session, Qt's offscreen platform, and Wine prefixes
with a real Windows CPython (tests/windows, tests/installer).

A process has one QApplication, and whichever suite creates it first decides its platform, so the platform is
set here once for all of them (pytest-qt's ``qapp_args``: ``-platform offscreen``, not ``QT_QPA_PLATFORM`` in
``os.environ``, which would leak into the agent subprocesses other suites start). Tests that need Qt on a real X
server with a tray host run the app in a subprocess of their own (tests/ui/test_tray_x11.py).
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.wine import WineError, WinePrefix, prepare
from support.xdisplay import start_tray_host, start_xvfb


@pytest.fixture(scope="session")
def x_display() -> Iterator[str]:
    """A private Xvfb server on a free display number (Xvfb picks it and reports it through -displayfd), for
    xdotool to inject input into and the agent to count it."""
    server, display = start_xvfb()
    yield display
    server.terminate()
    server.wait(10)


@pytest.fixture(scope="session")
def desktop_display() -> Iterator[str]:
    """Another private Xvfb, with a tray host (trayer) as on a desktop with a panel: for the tray icon and the
    self-test, which fails without a tray. ``x_display`` has none, so Wine shows its own tray window there."""
    server, display = start_xvfb()
    tray_host = start_tray_host(display)
    yield display
    for process in (tray_host, server):
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="session")
def qapp_args() -> list[str]:
    return ["staffpulse-tests", "-platform", "offscreen"]

# Fixtures that make a Wine prefix; the tests asking for them (or living in tests/windows) need the Wine caches.
WINE_FIXTURES = frozenset({"wine", "freezing_prefix", "clean_machine"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Makes the Wine caches (tests/support/wine.py) before any test runs when some collected test needs them.
    On a machine that has none yet this downloads WinPython and the Windows wheels and boots a prefix (a few
    minutes), which must not count against the first such test's timeout. A failure is left to the fixtures,
    which fail the tests that need Wine with its message; the rest of the suite runs."""
    windows = Path(__file__).parent / "windows"
    if any(WINE_FIXTURES & set(getattr(item, "fixturenames", ())) or windows in item.path.parents for item in items):
        with contextlib.suppress(WineError, OSError, subprocess.SubprocessError):
            prepare()


@pytest.fixture(scope="module")
def wine(tmp_path_factory: pytest.TempPathFactory, x_display: str) -> Iterator[WinePrefix]:
    """A Wine prefix of this module's own, on the session's X display, with the Windows CPython that has the
    release's dependencies (tests/support/wine.py; the first run of all makes the caches, later ones copy)."""
    try:
        prefix = WinePrefix.fresh(tmp_path_factory.mktemp("wine") / "prefix", display=x_display)
    except WineError as error:
        pytest.fail(str(error))
    yield prefix
    prefix.close()

