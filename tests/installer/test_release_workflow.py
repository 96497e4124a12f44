"""The release workflow's promises, read from .github/workflows/release.yml (GitHub runs it, we cannot): secrets
reach only the signing steps, an unconditional gate fails anything unsigned or not by our signer, the tag,
package, exe and MSI versions are checked by the script tests/installer/test_release_scripts.py runs, the MSI is
built with the wixl this machine tests with, real Windows runs the life-cycle steps the Wine tests run, and a tag
publishes versioned files with their SHA-256 checksums."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from installer import lifecycle_checks

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "release.yml"
SECRET = re.compile(r"\$\{\{(.*?)\}\}", re.S)
SIGNING_STEP = re.compile(r"(Sign|Import the signing certificate)\b")
#: What a job may know about a secret: whether it is set.
PRESENCE = re.compile(r"secrets\.\w+ != ''")


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(WORKFLOW.read_text())
    return loaded


def expressions(value: object) -> list[str]:
    """Every ``${{ … }}`` expression anywhere in ``value``."""
    return SECRET.findall(yaml.safe_dump(value, width=10_000))


def runs(job: dict[str, Any]) -> list[str]:
    return [step.get("run", "") for step in job["steps"]]


def test_secret_values_reach_only_signing_steps(workflow: dict[str, Any]) -> None:
    assert not [e for e in expressions(workflow.get("env", {})) if "secrets." in e]
    signing = 0
    for name, job in workflow["jobs"].items():
        for expression in expressions({k: v for k, v in job.items() if k != "steps"}):
            assert "secrets." not in PRESENCE.sub("", expression), f"job {name} sees a secret: {expression}"
        for step in job["steps"]:
            if any("secrets." in e for e in expressions(step)):
                assert SIGNING_STEP.match(step.get("name", "")), f"{name}: step {step.get('name')} sees a secret"
                signing += 1
    assert signing >= 5, "Azure and PFX signing of the PE files and the MSI, and the macOS certificate"


def test_an_unconditional_gate_fails_anything_unsigned(workflow: dict[str, Any]) -> None:
    jobs = workflow["jobs"]
    for name, target in (("windows-app", "--verify-folder dist/StaffPulse"), ("windows-msi", '--verify "$MSI"'),
                         ("windows-lifecycle", '--verify-folder "C:/Program Files/StaffPulse"')):
        steps = jobs[name]["steps"]
        gates = [i for i, s in enumerate(steps) if s.get("run", "") == f"python -m installer.sign {target}"]
        assert len(gates) == 1, f"{name} verifies {target}"
        assert "if" not in steps[gates[0]] and "continue-on-error" not in steps[gates[0]], "never skipped"
        signs = [i for i, s in enumerate(steps) if SIGNING_STEP.match(s.get("name", ""))]
        assert all(i < gates[0] for i in signs), f"{name}: the gate comes after signing"
    assert jobs["windows-app"]["env"]["SIGN_WITH"].count("'none'") == 1, "no secrets: nothing signs, the gate fails"
    app = {s.get("name", ""): s for s in jobs["windows-app"]["steps"]}
    assert "--list-unsigned dist/StaffPulse > unsigned.txt" in app["List the PE files that need our signature"]["run"]
    assert app["Sign the PE files (Azure Artifact Signing)"]["with"]["files-catalog"].endswith("unsigned.txt")
    assert "< unsigned.txt" in app["Sign the PE files (test PFX)"]["run"], "every unsigned PE, not only our exe"


def test_every_sign_and_verify_step_requires_our_signer(workflow: dict[str, Any]) -> None:
    """installer.sign refuses to run without an expected signer, so an unset variable fails the build too."""
    assert workflow["env"]["STAFFPULSE_SIGN_SIGNER"] == "${{ vars.STAFFPULSE_SIGN_SIGNER }}"
    checked = 0
    for name, job in workflow["jobs"].items():
        for step in job["steps"]:
            run = step.get("run", "")
            if "installer.sign" not in run or "--list-unsigned" in run:
                continue
            env = {**workflow["env"], **job.get("env", {}), **step.get("env", {})}
            assert env["STAFFPULSE_SIGN_SIGNER"] == workflow["env"]["STAFFPULSE_SIGN_SIGNER"] or "--signer" in run, (
                f"{name}: {step.get('name')} checks the signer")
            checked += 1
    assert checked == 5, "PFX signing of the PE files and the MSI, and the three gates"


def test_versions_are_checked_by_the_tested_script(workflow: dict[str, Any]) -> None:
    jobs = workflow["jobs"]
    script = "python3 -m installer.release_version"
    check = jobs["version"]["steps"][-1]["run"]
    assert script in check and '--tag "$GITHUB_REF_NAME"' in check
    assert "python -m installer.release_version --exe dist/StaffPulse/StaffPulse.exe" in runs(jobs["windows-app"])
    assert f'{script} --msi "out/StaffPulse-$VERSION-x64.msi"' in runs(jobs["msi"])
    for name, job in jobs.items():
        if name != "version":
            assert "version" in job["needs"], f"{name} uses the checked version"


def test_the_msi_is_built_with_the_wixl_the_tests_use(workflow: dict[str, Any]) -> None:
    installed = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "wixl", "msitools"], capture_output=True,
                               text=True, check=True, timeout=30).stdout
    assert installed == workflow["env"]["WIXL_VERSION"] * 2, "update WIXL_VERSION with the test machines' wixl"
    release = dict(line.split("=", 1) for line in Path("/etc/os-release").read_text().splitlines() if "=" in line)
    msi = workflow["jobs"]["msi"]
    assert msi["container"] == f"debian:{release['VERSION_CODENAME']}"
    install = msi["steps"][0]["run"]
    assert '"wixl=$WIXL_VERSION" "msitools=$WIXL_VERSION"' in install and 'test "$(wixl --version)"' in install
    assert any("python3 -m installer.build_msi dist/StaffPulse" in run for run in runs(msi))


def test_windows_jobs_use_the_wine_tests_python(workflow: dict[str, Any]) -> None:
    assert workflow["env"]["WINDOWS_PYTHON_VERSION"] == "3.13", "WinPython 3.13, as tests/support/wine.py installs"
    for name, job in workflow["jobs"].items():
        if job["runs-on"] == "windows-latest":
            [python] = [s for s in job["steps"] if s.get("uses", "").startswith("actions/setup-python")]
            assert python["with"]["python-version"] == "${{ env.WINDOWS_PYTHON_VERSION }}", name


def test_real_windows_runs_every_life_cycle_step_in_order(workflow: dict[str, Any]) -> None:
    job = workflow["jobs"]["windows-lifecycle"]
    assert job["runs-on"] == "windows-latest"
    steps = [re.match(r"python -m installer\.lifecycle_checks (\S+)", run) for run in runs(job)]
    order = [match.group(1) for match in steps if match]
    assert order == list(lifecycle_checks.STEPS) == [
        "refuse", "install", "upgrade", "repair", "same-version", "downgrade", "uninstall"], "each step, in order"
    refused = re.findall(r"lifecycle_checks refuse \S+ --log \S+ (\w+)=", "\n".join(runs(job)))
    assert sorted(refused) == sorted(set(lifecycle_checks.REFUSALS) & set(lifecycle_checks.POLICY)), "each check"
    assert "--wine" not in "\n".join(runs(job)), "--wine is for the Wine tests only"
    for step in ("upgrade", "repair", "same-version"):
        command = next(run for run in runs(job) if f"lifecycle_checks {step} " in run)
        given, _, kept = command.partition("--expect")
        assert "$POLICY" not in given and "=" not in given and kept.strip() == "$POLICY", f"{step}: no properties"
    policy = dict(item.split("=", 1) for item in job["env"]["POLICY"].split())
    assert set(policy) == set(lifecycle_checks.POLICY), "every public property the MSI has"
    assert any(s.get("if") == "always()" and "logs/" in str(s.get("with")) for s in job["steps"]), "logs kept"


def test_a_tag_publishes_versioned_files_with_checksums(workflow: dict[str, Any]) -> None:
    jobs = workflow["jobs"]
    release = jobs["release"]
    assert release["if"] == "github.ref_type == 'tag'"
    assert set(release["needs"]) >= {"windows-msi", "windows-lifecycle", "macos"}
    assert release["permissions"] == {"contents": "write"} and workflow["permissions"] == {"contents": "read"}
    script = "\n".join(runs(release))
    files = ['"StaffPulse-$VERSION-x64.msi"', '"StaffPulse-$VERSION-arm64.dmg"']
    assert f"sha256sum {' '.join(files)} > SHA256SUMS" in script and "sha256sum --check SHA256SUMS" in script
    assert "gh release create" in script and "--verify-tag" in script and "out/SHA256SUMS" in script
    assert jobs["windows-msi"]["env"]["MSI"] == "out/StaffPulse-${{ needs.version.outputs.version }}-x64.msi"
    assert jobs["macos"]["steps"][-1]["with"]["path"] == "StaffPulse-${{ env.VERSION }}-arm64.dmg"
