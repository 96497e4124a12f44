"""agent/ stays free of Qt and network libraries, and exports exactly what it declares."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import agent

FORBIDDEN = ("PySide6", "PyQt5", "PyQt6", "requests", "socketio", "engineio", "httpx", "urllib3", "websocket")
ROOT = Path(__file__).resolve().parents[2]


def test_no_module_in_agent_pulls_in_qt_or_network() -> None:
    modules = [m.name for m in pkgutil.walk_packages(agent.__path__, "agent.") if not m.name.endswith("__main__")]
    assert "agent.idle._x11" in modules
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    loaded = json.loads(result.stdout)
    offending = [name for name in loaded if name.split(".")[0] in FORBIDDEN]
    assert offending == []


def test_public_names_are_all_exported() -> None:
    assert sorted(agent.__all__) == sorted(n for n in vars(agent) if not n.startswith("_") and n[0].isupper())
    for name in agent.__all__:
        assert getattr(agent, name)
