"""The development venv made by scripts/setup-venv carries no setuptools with known flaws: ``python -m venv``
seeds the one bundled with Python (65.5.0 on 3.11: CVE-2022-40897, CVE-2024-6345, CVE-2025-47273)."""

from __future__ import annotations

import importlib.metadata
import sys

from packaging.version import Version

SAFE_SETUPTOOLS = Version("78.1.1")  # the first release without CVE-2025-47273


def test_the_venv_setuptools_is_not_older_than_the_safe_version() -> None:
    assert sys.prefix != sys.base_prefix, "the suite runs in the venv scripts/setup-venv made"
    assert Version(importlib.metadata.version("setuptools")) >= SAFE_SETUPTOOLS
