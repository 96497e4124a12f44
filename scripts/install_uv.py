"""Installs into the running Python the uv that uv.lock pins, checked against the lock's own hashes.

uv installs everything else from uv.lock, so uv itself is the one package that must come from somewhere before
the lock can be read: pip installs it, with `--require-hashes`, from the version and wheel hashes that uv.lock
records for it (pyproject's dev extra pins `uv==…`, so `scripts/lock` keeps the entry). One lock file pins the
tool too; nothing else to keep in step. Standard library only: it runs before anything is installed, on the
Linux venv (scripts/setup-venv, scripts/lock) and on the release runners (Windows, macOS).

    python scripts/install_uv.py      # does nothing when that uv is already installed
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

LOCK = Path(__file__).resolve().parents[1] / "uv.lock"


def locked_requirement(lock: Path = LOCK, name: str = "uv") -> str:
    """``name==version --hash=… …`` for pip, with the hash of every wheel the lock records for ``name``."""
    packages = [p for p in tomllib.loads(lock.read_text(encoding="utf-8"))["package"] if p["name"] == name]
    if len(packages) != 1:
        raise SystemExit(f"{lock} should lock exactly one {name}, it locks {len(packages)}")
    (package,) = packages
    hashes = " ".join(f"--hash={wheel['hash']}" for wheel in package["wheels"])
    return f"{name}=={package['version']} {hashes}"


def main() -> None:
    requirement = locked_requirement()
    wanted = requirement.split()[0].split("==")[1]
    try:
        if importlib.metadata.version("uv") == wanted:
            return
    except importlib.metadata.PackageNotFoundError:
        pass
    with tempfile.TemporaryDirectory() as folder:
        pinned = Path(folder) / "uv.txt"
        pinned.write_text(requirement + "\n", encoding="utf-8")
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "--require-hashes", "--no-deps", "-r", str(pinned)], check=True)


if __name__ == "__main__":
    main()
