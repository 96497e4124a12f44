"""The core never imports the GUI: staffpulse/, sync/, server/ and protocol/ load without touching Qt.

The import-linter contracts (pyproject.toml, ``lint-imports``) check the imports our code writes, lazy ones
included; this checks what actually loads, which they cannot see: a module imported by name at run time
(``importlib.import_module``), or a third-party library that pulls Qt in by itself. The app package is here
too: ``staffpulse`` must start headless on a machine without Qt, so ui/ may only load inside ``run_agent``.
Run in a fresh interpreter so modules imported by other tests cannot hide an import.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# agent/ has a stricter test of its own (no network libraries either): tests/agent/test_agent_imports.py.
CORE = ["staffpulse", "sync", "server", "protocol"]


def modules_of(package: str) -> list[str]:
    found = [package]
    for info in pkgutil.walk_packages([str(ROOT / package)], prefix=f"{package}."):
        if ".migrations" not in info.name and not info.name.endswith("__main__"):
            found.append(info.name)
    return found


@pytest.mark.parametrize("package", CORE)
def test_core_package_does_not_import_qt(package: str) -> None:
    names = modules_of(package)
    code = ("import importlib, sys\n"
            f"for name in {names!r}: importlib.import_module(name)\n"
            "print(sorted({m.split('.')[0] for m in sys.modules if m.split('.')[0] in "
            "('PySide6', 'shiboken6', 'PyQt5', 'PyQt6')}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", f"{package} pulled in Qt: {done.stdout}"
