"""The import-linter contracts (pyproject.toml, run by ``lint-imports`` in scripts/test) catch what they are for.

Each case copies our packages to a temporary folder, writes one forbidden import into the copy, and runs
``lint-imports`` there on that one contract: it must fail and name the import. The untouched copy passes every
contract, so a failure is the violation's, not the copy's. Most violations are written inside a function, as
the lazy imports the contracts were brought in to catch were (sync/ importing ui/ at call time).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("staffpulse", "ui", "sync", "agent", "protocol", "server")
LINT_IMPORTS = str(Path(sys.executable).with_name("lint-imports"))

#: contract id -> (file in the copy, the import written into it, the module import-linter must name)
VIOLATIONS = {
    "layers": ("sync/selftest.py", "def _qt() -> None:\n    from ui import app\n", "sync.selftest -> ui.app"),
    "server-alone": ("server/db.py", "def _agent() -> None:\n    import agent.outbox\n", "server.db -> agent.outbox"),
    "protocol-bottom": ("protocol/text.py", "import server.models\n", "protocol.text -> server.models"),
    "qt-in-ui": ("sync/control.py", "def _qt() -> None:\n    import PySide6\n", "sync.control -> PySide6"),
    "agent-offline": ("agent/paths.py", "def _net() -> None:\n    import requests\n", "agent.paths -> requests"),
    "sampler-alone": ("staffpulse/sampler.py", "def _sync() -> None:\n    import sync.control\n",
                      "staffpulse.sampler -> sync.control"),
}


def lint_imports(folder: Path, *contracts: str) -> subprocess.CompletedProcess[str]:
    """import-linter puts the working directory first on the path, so it reads the copy, not the checkout."""
    command = [LINT_IMPORTS, "--no-cache", "--no-logo", *(arg for c in contracts for arg in ("--contract", c))]
    env = os.environ | {"PYTHONPATH": str(folder), "COLUMNS": "200"}
    return subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("contracts")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, folder / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", folder)
    return folder


def test_the_project_keeps_every_contract(pristine: Path) -> None:
    done = lint_imports(pristine)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Contracts: {len(VIOLATIONS)} kept, 0 broken." in done.stdout, "a contract without a case below"


@pytest.mark.parametrize("contract", sorted(VIOLATIONS))
def test_each_contract_fails_on_a_violation(pristine: Path, tmp_path: Path, contract: str) -> None:
    path, code, named = VIOLATIONS[contract]
    copy = tmp_path / "copy"
    shutil.copytree(pristine, copy)
    with (copy / path).open("a", encoding="utf-8") as source:
        source.write("\n\n" + code)
    done = lint_imports(copy, contract)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "BROKEN" in done.stdout and named in done.stdout, done.stdout
