"""uv.lock, the one lock every install uses, matches pyproject.toml and installs on every platform we build on.

A dependency added to or changed in pyproject.toml without `scripts/lock` would leave the lock describing another
project: scripts/setup-venv (``uv sync --locked``) refuses it, and so does this test, offline, before anything is
installed. The release builds install wheels only (`uv sync --no-build`), so the lock must hold a wheel of each
package they need for every Python and platform they build with; uv checks that only for packages without an sdist.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.markers import Marker
from packaging.tags import Tag, compatible_tags, cpython_tags, mac_platforms
from packaging.utils import parse_wheel_filename
from uv import find_uv_bin

from scripts import install_uv
from support.checkout import copy_checkout

ROOT = Path(__file__).resolve().parents[1]

#: Where the release workflow freezes the agent (.github/workflows/release.yml): CPython 3.11 and 3.13 on
#: Windows x64, and the Mac runners' arm64.
BUILDS = {
    "windows-x64": ({"sys_platform": "win32", "platform_machine": "AMD64", "platform_system": "Windows",
                     "os_name": "nt"}, ["win_amd64"]),
    "macos-arm64": ({"sys_platform": "darwin", "platform_machine": "arm64", "platform_system": "Darwin",
                     "os_name": "posix"}, list(mac_platforms((14, 0), "arm64"))),
}
PYTHONS = ((3, 11), (3, 13))


def lock_check(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([find_uv_bin(), "lock", "--check", "--offline"], cwd=project, capture_output=True,
                          text=True, timeout=60, env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"})


def test_the_lock_matches_pyproject() -> None:
    checked = lock_check(ROOT)
    assert checked.returncode == 0, f"uv.lock does not match pyproject.toml (run scripts/lock):\n{checked.stderr}"


#: Drifts of pyproject.toml the lock must not pass: a floor the locked version does not meet, and a dependency
#: the lock has never seen.
DRIFTS = {
    "raised floor": ('"pydantic>=', '"pydantic>=99,>='),
    "new dependency": ("\ndependencies = [", '\ndependencies = [\n    "tomli-w",'),
}


@pytest.mark.parametrize("drift", DRIFTS)
def test_the_check_fails_when_pyproject_asks_for_what_the_lock_lacks(tmp_path: Path, drift: str) -> None:
    checkout = copy_checkout(tmp_path)
    old, new = DRIFTS[drift]
    pyproject = (checkout / "pyproject.toml").read_text()
    assert pyproject.count(old) == 1
    (checkout / "pyproject.toml").write_text(pyproject.replace(old, new))
    checked = lock_check(checkout)
    assert checked.returncode != 0
    assert ("pydantic>=99" if drift == "raised floor" else "tomli-w") in checked.stderr, checked.stderr


@functools.cache
def release_packages() -> list[tuple[str, str, str]]:
    """(name, version, marker) of what the release builds install: the agent, the GUI and PyInstaller."""
    exported = subprocess.run([find_uv_bin(), "export", "--frozen", "--extra", "gui", "--extra", "build",
                               "--no-emit-project", "--no-hashes", "--no-header", "--no-annotate"],
                              cwd=ROOT, capture_output=True, text=True, check=True, timeout=60).stdout
    packages = []
    for line in exported.splitlines():
        requirement, _, marker = line.partition(";")
        name, _, version = requirement.strip().partition("==")
        packages.append((name, version, marker.strip()))
    return packages


@functools.cache
def lock() -> dict[str, dict[str, Any]]:
    """uv.lock's packages by name (it locks one version of each)."""
    packages = tomllib.loads((ROOT / "uv.lock").read_text())["package"]
    by_name = {package["name"]: package for package in packages}
    assert len(by_name) == len(packages)
    return by_name


def without_wheel(markers: dict[str, str], platforms: list[str], python: tuple[int, int]) -> list[str]:
    """The release packages a build on ``platforms`` with CPython ``python`` needs and uv.lock has no wheel for."""
    major, minor = python
    environment = {**markers, "python_version": f"{major}.{minor}", "python_full_version": f"{major}.{minor}.0",
                   "platform_python_implementation": "CPython", "implementation_name": "cpython"}
    supported = {*cpython_tags(python, platforms=platforms), *compatible_tags(python, f"cp{major}{minor}", platforms)}
    needed = [(name, version) for name, version, marker in release_packages()
              if not marker or Marker(marker).evaluate(environment)]
    assert {"pyinstaller", "pyside6-essentials", "pynput"} <= {name for name, _ in needed}
    missing = []
    for name, version in needed:
        package = lock()[name]
        assert package["version"] == version
        tags: set[Tag] = set()
        for wheel in package.get("wheels", []):
            tags |= parse_wheel_filename(wheel["url"].rsplit("/", 1)[1])[3]
        if not tags & supported:
            missing.append(f"{name}=={version}")
    return missing


@pytest.mark.parametrize("python", PYTHONS, ids=lambda version: f"cp{version[0]}{version[1]}")
@pytest.mark.parametrize("platform", BUILDS)
def test_every_package_of_the_release_builds_has_a_wheel(platform: str, python: tuple[int, int]) -> None:
    assert not without_wheel(*BUILDS[platform], python), f"uv.lock lacks {platform} wheels for CPython {python}"


def test_a_package_without_a_wheel_is_found() -> None:
    """On Linux, pynput needs evdev, which ships only an sdist: what the check reports for a build there."""
    linux = {"sys_platform": "linux", "platform_machine": "x86_64", "platform_system": "Linux", "os_name": "posix"}
    manylinux = [f"manylinux_2_{glibc}_x86_64" for glibc in range(39, 4, -1)] + [
        f"{legacy}_x86_64" for legacy in ("manylinux2014", "manylinux2010", "manylinux1")]
    assert [name.split("==")[0] for name in without_wheel(linux, manylinux, (3, 11))] == ["evdev"]


def test_the_bootstrap_installs_the_locked_uv_by_its_hashes() -> None:
    """scripts/install_uv.py's requirement: the locked version, one hash per locked wheel (Linux, Windows, macOS),
    and it is the uv this venv runs."""
    requirement = install_uv.locked_requirement()
    package = lock()["uv"]
    assert requirement.split()[0] == f"uv=={package['version']}"
    assert requirement.split()[1:] == [f"--hash={wheel['hash']}" for wheel in package["wheels"]]
    assert any("win_amd64" in wheel["url"] for wheel in package["wheels"])
    version = subprocess.run([find_uv_bin(), "--version"], capture_output=True, text=True, check=True).stdout
    assert version.split()[1] == package["version"]


def test_the_release_workflow_installs_from_the_lock_only() -> None:
    """Each build job installs by the lock's hashes, wheels only, the extras pyproject declares; nothing through pip."""
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "release.yml").read_text())
    extras = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    builds = 0
    for job in workflow["jobs"].values():
        runs = [step.get("run", "") for step in job["steps"]]
        assert not [run for run in runs if "pip install" in run]
        freezes = [run for run in runs if "PyInstaller" in run]
        if not freezes:
            continue
        builds += 1
        (install,) = [run for run in runs if "uv sync" in run]
        assert install.index("python scripts/install_uv.py") < install.index("uv sync")
        assert {"--locked", "--no-build"} <= set(install.split())
        assert set(re.findall(r"--extra (\S+)", install)) == {"gui", "build"} <= extras
        assert all(".venv" in run for run in freezes), "the frozen app is built from what the lock installed"
    assert builds == 2
