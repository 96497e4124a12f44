"""The development venv made by scripts/setup-venv is the one uv.lock describes, and carries no setuptools with known
flaws (``python -m venv`` seeds the one bundled with Python: 65.5.0 on 3.11, CVE-2022-40897, CVE-2024-6345,
CVE-2025-47273).

The suite runs in that venv, so a venv that drifted from the lock (a package installed, upgraded or removed by
hand, or a lock changed without re-running scripts/setup-venv) would test something the lock, and so CI and the
release, do not install. ``uv sync --check`` compares every installed distribution with the lock, offline."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import venv
from pathlib import Path

from packaging.version import Version
from uv import find_uv_bin

from support.checkout import copy_checkout

ROOT = Path(__file__).resolve().parents[1]
SAFE_SETUPTOOLS = Version("78.1.1")  # the first release without CVE-2025-47273


def venv_check(project: Path, environment: Path) -> subprocess.CompletedProcess[str]:
    """``uv sync --check`` of ``environment`` against ``project``'s uv.lock, as scripts/setup-venv syncs it."""
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(environment), "UV_PYTHON_DOWNLOADS": "never"}
    return subprocess.run([find_uv_bin(), "sync", "--check", "--locked", "--all-extras", "--offline"],
                          cwd=project, env=env, capture_output=True, text=True, timeout=60)


def test_the_venv_setuptools_is_not_older_than_the_safe_version() -> None:
    assert sys.prefix != sys.base_prefix, "the suite runs in the venv scripts/setup-venv made"
    assert Version(importlib.metadata.version("setuptools")) >= SAFE_SETUPTOOLS


def test_the_venv_holds_exactly_what_the_lock_pins() -> None:
    checked = venv_check(ROOT, Path(sys.prefix))
    assert checked.returncode == 0, (f"the venv drifted from uv.lock (to re-sync it: rm .venv/.installed-*; "
                                     f"scripts/setup-venv):\n{checked.stderr}")


def test_the_check_names_a_package_the_venv_holds_at_another_version(tmp_path: Path) -> None:
    """The same check, on a copy of the project whose venv holds one locked package at a version the lock does
    not pin: it must fail and say which (the real venv is never touched)."""
    checkout = copy_checkout(tmp_path)
    environment = tmp_path / "venv"
    venv.create(environment, with_pip=False)
    site = Path(subprocess.run([environment / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_path("
                                "'purelib'))"], capture_output=True, text=True, check=True).stdout.strip())
    stale = site / "six-1.0.0.dist-info"
    stale.mkdir()
    (stale / "METADATA").write_text("Metadata-Version: 2.1\nName: six\nVersion: 1.0.0\n")
    (stale / "RECORD").write_text("")
    checked = venv_check(checkout, environment)
    assert checked.returncode != 0
    assert "- six==1.0.0" in checked.stderr and "+ six==" in checked.stderr, checked.stderr
