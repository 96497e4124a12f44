"""Issue 15, item 11: the window fits an 800 px wide screen at 100 % and a 1280 px one at 150 %, with its
connection badge inside, whatever it shows, the History tab with a manager's team day too (``window_probe.py``, a
subprocess per scale)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("scale", "screen"), [("1", 800), ("1.5", 1280)])
def test_the_window_fits_the_screen_at_its_scale(scale: str, screen: int) -> None:
    env = os.environ | {"QT_QPA_PLATFORM": "offscreen", "QT_SCALE_FACTOR": scale,
                        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
    done = subprocess.run([sys.executable, str(ROOT / "tests" / "ui" / "window_probe.py")], env=env,
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["ratio"] == float(scale), seen
    assert seen["history_rows"] == 60, f"the History tab was measured without its team day: {seen}"
    assert seen["minimum"] * seen["ratio"] <= screen, f"the window cannot be narrower than {seen}"
    assert seen["hint"] * seen["ratio"] <= screen, f"the window asks to be wider than the screen: {seen}"
    assert seen["width"] == seen["minimum"] and seen["badge_right"] <= seen["width"], f"the badge falls off: {seen}"
