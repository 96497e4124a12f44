"""A copy of this checkout to change without touching the real one: for tests that check what uv says about a
pyproject.toml, uv.lock or venv that drifted. Source files come along (a dynamic version is read from them); the
venv, git and caches do not."""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LEFT_OUT = shutil.ignore_patterns(".venv", ".git", "node_modules", "var", "build", "dist", "__pycache__", "*_cache",
                                  ".hypothesis", "*.egg-info")


def copy_checkout(destination: Path) -> Path:
    """The checkout's files under ``destination``/checkout; that folder."""
    copy = destination / "checkout"
    shutil.copytree(ROOT, copy, ignore=LEFT_OUT)
    return copy
