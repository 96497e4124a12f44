"""The release version is written once (protocol/version.py), and what shows it agrees: the installed
distribution (so the wheel, the frozen app, the MSI and the bundle), and the server's ``--version``. What the
agent sends at enrollment is checked against a real server in tests/sync/test_enrollment_client.py."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import tomllib
from pathlib import Path

import server
from protocol.version import VERSION

ROOT = Path(__file__).resolve().parents[1]


def test_pyproject_reads_the_version_from_protocol() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "protocol.version.VERSION"}
    # scripts/setup-venv reinstalls when protocol/version.py changes, so the metadata never lags behind.
    assert importlib.metadata.version("staffpulse") == VERSION


def test_the_server_reports_the_same_version() -> None:
    assert server.__version__ == VERSION
    done = subprocess.run([sys.executable, "-m", "server.cli", "--version"], capture_output=True, text=True,
                          cwd=ROOT, timeout=60, check=True)
    assert done.stdout.strip() == VERSION
