"""What the tests that run our Windows code under Wine share: a prefix kept running (waiting with a deadline,
xdotool, notepad and policy writes are in tests/support/wine_desktop.py, shared with tests/installer).

Wine starts a prefix's wineserver and its system processes (services.exe, winedevice.exe, …) with the first
Windows process and stops them a few seconds after the last one ends; each start costs ~3 s. A module that runs
several short Windows processes one after another keeps one waiting process alive instead, so they cost only
their own start.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from support.wine import WinePrefix

KEEPER = "import sys; print('up', flush=True); sys.stdin.read()"  # sleeps until the prefix is shut down


@pytest.fixture(scope="module")
def running_wine(wine: WinePrefix) -> Iterator[WinePrefix]:
    """The module's prefix with its wineserver kept running until the module's teardown."""
    keeper = subprocess.Popen(wine.command([wine.python_exe, "-c", KEEPER]), env=wine.env(),
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True)
    if keeper.stdout is None or keeper.stdout.readline().strip() != "up":
        pytest.fail(f"the Windows Python did not start in {wine.path}")
    yield wine
    for pipe in (keeper.stdin, keeper.stdout):  # end of input: the keeper exits (the wine fixture then ends
        if pipe is not None:                      # the wineserver)
            pipe.close()
    keeper.wait(30)
