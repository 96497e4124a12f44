"""The Windows CPython the Windows tests run under Wine is the one the release ships against: a real win32
Python, with the lock's versions of the agent's dependencies, importing our packages from the checkout."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from support.wine import WinePrefix, windows_path

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json, sys, importlib.metadata as m
import agent, sync, protocol.version
print(json.dumps({"platform": sys.platform, "frozen": getattr(sys, "frozen", False),
                  "versions": {n: m.version(n) for n in ("pynput", "keyring", "psutil", "requests",
                                                         "python-socketio", "pyinstaller", "PySide6-Essentials")},
                  "agent": agent.__file__}))
"""


def test_windows_python_has_the_locked_dependencies(wine: WinePrefix) -> None:
    done = wine.python(["-c", PROBE])
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["platform"] == "win32"
    locked = {p["name"]: p.get("version") for p in tomllib.loads((ROOT / "uv.lock").read_text())["package"]}
    assert found["versions"] == {name: locked[name.lower()] for name in found["versions"]}
    assert found["agent"].lower().startswith(windows_path(ROOT / "agent").lower())
