"""The MSI's life cycle under Wine's real msiexec, as IT lives it: installs refused for bad properties, install
with properties, a major upgrade and a repair without them (GPO Software Installation, Intune supersedence,
``msiexec /famus``), a same-version rebuild, a refused downgrade, uninstall. The MSIs are built by the real
build_msi from a small Windows payload (``windows_payload``: real PE files, not our app), so each step takes
seconds.

Each step is run and checked by ``installer.lifecycle_checks`` inside the prefix's Windows Python, the script the
release's ``windows-lifecycle`` job runs on real Windows, with ``--wine`` for what Wine's msiexec does differently
(docs/installer.md). So these tests prove that script as much as the MSI. What stays here is what a checker
inside the machine cannot know: the installed files against the payload they were packed from, and that the
package asks Windows to hide the key that Wine's log shows.

The life-cycle steps share one prefix and run in order; ``LifeCycle`` runs each step once, after the steps before
it, so any one test also runs alone.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path

import pytest

from installer import build_msi, lifecycle_checks
from support.lifecycle import lifecycle_step, passed
from support.msi_tables import msi_table
from support.wine import WinePrefix
from support.xdisplay import need_tool

VERSIONS = {"first": "0.1.0", "upgrade": "0.2.0", "rebuild": "0.2.0"}
REG_SZ = lifecycle_checks.REG_SZ
POLICY = ["SERVERURL=http://127.0.0.1:8765", "ENROLLTOKEN=dk_lifecycle-9f3a7c", "IDLETHRESHOLD=300"]


@pytest.fixture(scope="module")
def msis(windows_payload: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The payload packed at each step's version, by the real build_msi (the rebuild: same version, new build)."""
    need_tool("wixl")
    folder = tmp_path_factory.mktemp("msis")
    return {step: build_msi.build_msi(windows_payload, folder / f"{step}.msi", version)
            for step, version in VERSIONS.items()}


def program_files(prefix: WinePrefix) -> Path:
    return prefix.drive_c / "Program Files" / "StaffPulse"


def files_under(folder: Path) -> set[str]:
    return {path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file()}


class LifeCycle:
    """One machine's life with the MSI. Each step is a cached property: it runs once, after the step before it
    passed, and returns the checker's result."""

    def __init__(self, prefix: WinePrefix, msis: dict[str, Path], logs: Path) -> None:
        self.prefix, self.msis, self.logs = prefix, msis, logs

    def check(self, step: str, msi: str, *args: str) -> subprocess.CompletedProcess[str]:
        return lifecycle_step(self.prefix, step, self.msis[msi], self.logs / f"{step}.log", "--version", VERSIONS[msi],
                     *args)

    @cached_property
    def install(self) -> subprocess.CompletedProcess[str]:
        return self.check("install", "first", *POLICY)

    @cached_property
    def upgrade(self) -> subprocess.CompletedProcess[str]:
        assert passed(self.install)
        return self.check("upgrade", "upgrade", "--expect", *POLICY)

    @cached_property
    def repair(self) -> subprocess.CompletedProcess[str]:
        assert passed(self.upgrade)
        return self.check("repair", "upgrade", "--expect", *POLICY)

    @cached_property
    def same_version(self) -> subprocess.CompletedProcess[str]:
        assert passed(self.repair)
        return self.check("same-version", "rebuild", "--expect", *POLICY)

    @cached_property
    def downgrade(self) -> subprocess.CompletedProcess[str]:
        assert passed(self.same_version)
        return self.check("downgrade", "first")

    @cached_property
    def uninstall(self) -> subprocess.CompletedProcess[str]:
        assert passed(self.downgrade)
        return self.check("uninstall", "rebuild")


@pytest.fixture(scope="module")
def life(wine: WinePrefix, msis: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> LifeCycle:
    return LifeCycle(wine, msis, tmp_path_factory.mktemp("msi-logs"))


def test_install_places_the_program_policy_run_key_shortcut_and_entry(life: LifeCycle, windows_payload: Path,
                                                                       ) -> None:
    """The checker: exe, Run value, policy values and their remembered copies, Start menu shortcut, one Programs
    and Features entry with its details, MsiLogging, the key hidden. Here: every payload file, and only those."""
    assert passed(life.install)
    assert files_under(program_files(life.prefix)) == files_under(windows_payload)


def test_the_package_hides_the_key_that_wines_log_shows(msis: dict[str, Path]) -> None:
    """Wine 8 ignores MsiHiddenProperties, so under --wine the checker lets the key show on the hidden
    properties' lines (and the EnrollToken registry writes): that is only right while the package hides exactly
    those properties, which Windows then leaves out of its log."""
    hidden = dict(msi_table(msis["first"], "Property"))["MsiHiddenProperties"]
    assert tuple(hidden.split(";")) == lifecycle_checks.HIDDEN_PROPERTIES


def test_fail_lines_show_the_key_as_hidden() -> None:
    """IT runs the checker with a real key and CI keeps its output: a FAIL about the policy shows every
    EnrollToken's data as (hidden), the key given and any other the machine holds, and still shows the rest."""
    policy = dict(setting.split("=", 1) for setting in POLICY)
    machine = lifecycle_checks.Machine()
    lifecycle_checks.check_policy(
        machine, {"ServerUrl": ("https://elsewhere.example", REG_SZ), "EnrollToken": (policy["ENROLLTOKEN"], REG_SZ)},
        {"EnrollToken": ("dk_previous-41c2", REG_SZ)}, policy)
    wine_log = r"Key: HKEY_LOCAL_MACHINE\Software\Policies\StaffPulse, Name: EnrollToken, Value: dk_previous-41c2"
    lifecycle_checks.check_wine_wrote_policy(machine, wine_log, policy)
    openings = ("policy is ", "remembered values are ", "the log shows the policy written as ")
    assert len(machine.problems) == len(openings)
    assert all(map(str.startswith, machine.problems, openings)), machine.problems
    assert not [problem for problem in machine.problems if "dk_" in problem]
    assert all("(hidden)" in problem for problem in machine.problems)
    assert "https://elsewhere.example" in machine.problems[0]


def test_upgrade_without_properties_keeps_the_server_and_token(life: LifeCycle) -> None:
    """GPO and Intune install the newer MSI with no properties; the old version's removal takes its policy
    values with it, so the upgrade must write them again from what the first install remembered."""
    assert passed(life.upgrade)


def test_repair_without_properties_restores_files_and_blanks_nothing(life: LifeCycle) -> None:
    assert passed(life.repair)


def test_a_rebuild_of_the_same_version_replaces_it(life: LifeCycle) -> None:
    assert passed(life.same_version)


def test_downgrade_is_refused_with_a_message(life: LifeCycle) -> None:
    assert passed(life.downgrade)


def test_uninstall_removes_the_program_and_keeps_user_data(life: LifeCycle) -> None:
    """docs/installer.md: the program folder, the Run value, the shortcut, the policy values the MSI wrote and
    what it remembered go; each user's data stays. The MSI has no component under the users' folders and no
    custom action that runs code (tests/installer/test_installer_build.py), so Credential Manager is never
    touched."""
    assert passed(life.uninstall)


@pytest.fixture(scope="module")
def clean_machine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WinePrefix]:
    """A prefix nothing is ever installed on: every install here must be refused."""
    prefix = WinePrefix.fresh(tmp_path_factory.mktemp("wine-clean") / "prefix")
    yield prefix
    prefix.close()


@pytest.mark.parametrize("setting", [
    "SERVERURL=http://pulse.example.com",
    # http:// passes only to a loopback host, and the host must end right after its name:
    "SERVERURL=http://localhost.example.com", "SERVERURL=http://127.0.0.1.evil.example",
    # the loopback name before an "@" is a user name; the host is after it:
    "SERVERURL=http://127.0.0.1:x@evil.example/", "SERVERURL=http://localhost:8765@evil.example",
    "IDLETHRESHOLD=abc", "IDLETHRESHOLD=59", "IDLETHRESHOLD=3601"])
def test_bad_properties_fail_the_install_with_a_message(clean_machine: WinePrefix, msis: dict[str, Path],
                                                        tmp_path: Path, setting: str) -> None:
    """1603, the reason in the log naming the property and its value, nothing installed. (Windows logs the
    launch condition's message; Wine logs none under /qn, but both log the InvalidProperty that carries it,
    which the checker finds.)"""
    assert passed(lifecycle_step(clean_machine, "refuse", msis["first"], tmp_path / "install.log", setting))
