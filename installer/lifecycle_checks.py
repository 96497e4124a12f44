"""The MSI's life cycle, each step run and checked from inside a Windows machine's own Python: real Windows in
release.yml's ``windows-lifecycle`` job, Wine in tests/installer. One script for both, so Wine and Windows prove
the same things and a difference between them is a finding, not a drift between two test suites.

    python -m installer.lifecycle_checks install OLD.msi --version 0.0.1 --log L SERVERURL=https://… ENROLLTOKEN=…
    python -m installer.lifecycle_checks upgrade NEW.msi --version 0.2.0 --log L --expect SERVERURL=… ENROLLTOKEN=…
    python -m installer.lifecycle_checks repair NEW.msi --version 0.2.0 --log L --expect SERVERURL=… ENROLLTOKEN=…
    python -m installer.lifecycle_checks same-version REBUILT.msi --version 0.2.0 --log L --expect …
    python -m installer.lifecycle_checks downgrade OLD.msi --version 0.0.1 --log L
    python -m installer.lifecycle_checks uninstall NEW.msi --version 0.2.0 --log L

Each step runs ``msiexec … /qn /norestart /l*v LOG`` (properties as IT passes them, docs/installer.md), then
checks the machine: the program folder and ``StaffPulse.exe``, the Run value pointing at it, the policy values
under ``HKLM\\Software\\Policies\\StaffPulse``, one Programs and Features entry at the expected version, and
that the deployment key never reaches the log (MsiHiddenProperties). Every difference is printed; the exit
code is 1 if there was any. An upgrade or repair is given no properties, as GPO Software Installation and
Intune supersedence give none, and must keep the values the first install wrote (``--expect``).

Standard library only (winreg, subprocess): it runs in a bare Windows CPython, before anything is installed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path, PureWindowsPath

NAME = "StaffPulse"
RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
POLICY_KEY = r"Software\Policies\StaffPulse"
UNINSTALL_KEY = r"Software\Microsoft\Windows\CurrentVersion\Uninstall"
#: MSI property → policy value it writes, and how the agent reads it back.
POLICY = {"SERVERURL": ("ServerUrl", str), "ENROLLTOKEN": ("EnrollToken", str), "IDLETHRESHOLD": ("IdleThreshold", int)}
DOWNGRADE_MESSAGE = "A newer version of StaffPulse is already installed."
MSIEXEC_TIMEOUT_S = 600


@dataclass
class Machine:
    """What a step found: facts read from the registry and the file system of this Windows machine."""

    problems: list[str] = field(default_factory=list)

    def require(self, ok: bool, problem: str) -> None:
        if not ok:
            self.problems.append(problem)


def hklm(key: str, name: str | None = None) -> object:
    """A value (``name``) or the list of subkey names (``name`` None) under HKLM in the 64-bit view; None if the
    key or value is absent."""
    if sys.platform != "win32":
        raise SystemExit("lifecycle_checks runs inside a Windows Python (Windows, or Wine)")
    else:  # an else, not a fall-through, so mypy on Linux does not call the Windows branch unreachable
        import winreg

        try:
            with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, key, 0,
                                winreg.KEY_READ | winreg.KEY_WOW64_64KEY) as handle:
                if name is not None:
                    return winreg.QueryValueEx(handle, name)[0]
                return [winreg.EnumKey(handle, index) for index in range(winreg.QueryInfoKey(handle)[0])]
        except FileNotFoundError:
            return None


def install_dir() -> PureWindowsPath:
    """The 64-bit Program Files folder (environment names are case-blind on Windows) + StaffPulse."""
    return PureWindowsPath(os.environ.get("PROGRAMW6432") or os.environ["PROGRAMFILES"]) / NAME


def installed_versions() -> list[str]:
    """DisplayVersion of every Programs and Features entry named StaffPulse (side-by-side installs show twice)."""
    versions = []
    products = hklm(UNINSTALL_KEY)
    for product in products if isinstance(products, list) else []:
        entry = rf"{UNINSTALL_KEY}\{product}"
        if hklm(entry, "DisplayName") == NAME:
            versions.append(str(hklm(entry, "DisplayVersion")))
    return versions


def msiexec(action: list[str], log: Path, properties: list[str]) -> int:
    command = ["msiexec", *action, "/qn", "/norestart", "/l*v", str(log), *properties]
    return subprocess.run(command, timeout=MSIEXEC_TIMEOUT_S).returncode


def log_text(log: Path) -> str:
    """msiexec's log: UTF-16 with a BOM on current Windows, the ANSI code page on older ones and Wine."""
    if not log.exists():
        return ""
    data = log.read_bytes()
    return data.decode("utf-16") if data[:2] == b"\xff\xfe" else data.decode("latin-1")


def check_installed(machine: Machine, version: str, policy: dict[str, str]) -> None:
    """Installed once, at ``version``, with exactly ``policy`` (MSI property → value) in the policy key."""
    exe = install_dir() / f"{NAME}.exe"
    machine.require(Path(exe).is_file(), f"{exe} is missing")
    run = hklm(RUN_KEY, NAME)
    machine.require(run == f'"{exe}"', f"Run value {NAME} is {run!r}, expected {str(exe)!r} quoted")
    versions = installed_versions()
    machine.require(versions == [version], f"Programs and Features lists {NAME} at {versions}, expected [{version!r}]")
    for prop, (value_name, kind) in POLICY.items():
        found = hklm(POLICY_KEY, value_name)
        wanted = kind(policy[prop]) if prop in policy else None
        machine.require(found == wanted, f"policy {value_name} is {found!r}, expected {wanted!r}")


def check_removed(machine: Machine) -> None:
    machine.require(not Path(install_dir()).exists(), f"{install_dir()} is still there")
    machine.require(hklm(RUN_KEY, NAME) is None, f"Run value {NAME} is still there")
    for value_name, _ in POLICY.values():
        machine.require(hklm(POLICY_KEY, value_name) is None, f"policy {value_name} is still there")
    machine.require(not installed_versions(), f"Programs and Features still lists {NAME}")


def run_step(step: str, msi: Path, version: str, log: Path, properties: dict[str, str], expect: dict[str, str],
             ) -> list[str]:
    """Run one step with ``msi`` (its ProductVersion: ``version``) on this machine; the problems found, empty
    when it behaved as docs/installer.md says."""
    machine = Machine()
    before = installed_versions()
    given = [f"{name}={value}" for name, value in properties.items()]
    action = {"repair": ["/fvomus"], "uninstall": ["/x"]}.get(step, ["/i"])
    log.parent.mkdir(parents=True, exist_ok=True)
    status = msiexec([*action, str(msi)], log, given)
    text = log_text(log)
    if step == "downgrade":
        machine.require(status != 0, "the downgrade installed (exit 0)")
        machine.require(DOWNGRADE_MESSAGE in text, f"the log does not say {DOWNGRADE_MESSAGE!r}")
        after = installed_versions()
        machine.require(after == before, f"installed versions changed: {before} → {after}")
        return machine.problems
    machine.require(status == 0, f"msiexec {' '.join(action)} exited {status} (log: {log})")
    if step == "uninstall":
        check_removed(machine)
    else:
        check_installed(machine, version, properties if step == "install" else expect)
    token = properties.get("ENROLLTOKEN")
    machine.require(not token or token not in text, "the deployment key is in the MSI log (MsiHiddenProperties)")
    return machine.problems


def _pairs(items: list[str]) -> dict[str, str]:
    pairs = dict(item.split("=", 1) for item in items)
    unknown = set(pairs) - set(POLICY)
    if unknown:
        raise SystemExit(f"unknown properties {sorted(unknown)}: the MSI's public properties are {sorted(POLICY)}")
    return pairs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run one step of the StaffPulse MSI's life cycle and check it.")
    parser.add_argument("step", choices=["install", "upgrade", "repair", "same-version", "downgrade", "uninstall"])
    parser.add_argument("msi", type=Path)
    parser.add_argument("--version", required=True, help="the MSI's ProductVersion (installer.release_version)")
    parser.add_argument("--log", type=Path, required=True, help="msiexec's verbose log (/l*v)")
    parser.add_argument("--expect", nargs="*", default=[], metavar="PROP=VALUE",
                        help="policy the earlier install wrote, which this step must keep")
    parser.add_argument("properties", nargs="*", metavar="PROP=VALUE", help="install only: the public properties")
    args = parser.parse_args(argv)
    problems = run_step(args.step, args.msi.resolve(), args.version, args.log.resolve(), _pairs(args.properties),
                        _pairs(args.expect))
    for problem in problems:
        print(f"FAIL {args.step}: {problem}", file=sys.stderr)
    if not problems:
        print(f"ok   {args.step} {args.msi.name}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
