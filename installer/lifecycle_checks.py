"""The MSI's life cycle, each step run and checked from inside a Windows machine's own Python: real Windows in
release.yml's ``windows-lifecycle`` job, Wine in tests/installer/test_msi_wine.py. One script for both, so Wine
and Windows prove the same things and a difference between them is a finding, not a drift between two suites.

    python -m installer.lifecycle_checks refuse NEW.msi --log L IDLETHRESHOLD=abc        (on a clean machine)
    python -m installer.lifecycle_checks install OLD.msi --version 0.0.1 --log L SERVERURL=https://… ENROLLTOKEN=…
    python -m installer.lifecycle_checks upgrade NEW.msi --version 0.2.0 --log L --expect SERVERURL=… ENROLLTOKEN=…
    python -m installer.lifecycle_checks repair NEW.msi --version 0.2.0 --log L --expect SERVERURL=… ENROLLTOKEN=…
    python -m installer.lifecycle_checks same-version REBUILT.msi --version 0.2.0 --log L --expect …
    python -m installer.lifecycle_checks downgrade OLD.msi --version 0.0.1 --log L
    python -m installer.lifecycle_checks uninstall NEW.msi --version 0.2.0 --log L

Each step runs ``msiexec … /qn /norestart /l*v LOG`` (properties as IT passes them, docs/installer.md), then
checks the machine against what docs/installer.md promises:

- installed (install, upgrade, repair, same-version): ``StaffPulse.exe`` in Program Files, the Run value pointing
  at it, the policy values under ``HKLM\\Software\\Policies\\StaffPulse`` with their types, the same values
  remembered as text under ``HKLM\\Software\\StaffPulse\\Installer``, the all-users Start menu shortcut to the
  exe, and one Programs and Features entry at the expected version with its details (Publisher, Contact, links,
  InstallLocation). An upgrade or repair is given no properties, as GPO Software Installation and Intune
  supersedence give none, and must keep the policy the first install wrote (``--expect``). The upgrade and the
  same-version rebuild must replace the entry installed before them (``WIX_UPGRADE_DETECTED`` names it); the
  repair must put back ``StaffPulse.exe``, which it deletes first.
- refused (refuse: a bad SERVERURL or IDLETHRESHOLD; downgrade): exit code 1603, the refusal's message in the
  log, and the machine as it was.
- removed (uninstall): the program folder, Run value, policy and remembered values, shortcut and Programs and
  Features entry gone; the user's data (``%LOCALAPPDATA%\\StaffPulse``, where the check leaves a file) kept.
- every step: the deployment key (given, or the one the machine remembered) is nowhere in the log
  (MsiHiddenProperties).

Every difference is printed as ``FAIL``, the key's data as ``(hidden)`` (IT runs this with a real key, and CI
keeps the output); the exit code is 1 if there was any.

``--wine`` (set by tests/installer/test_msi_wine.py, never by the Windows job) adapts the checks to what Wine 8's
msiexec does differently, each noted where it applies (``WINE_*``); the Windows checks stay as they are.

Standard library only (winreg, subprocess; build_msi's constants): it runs in a bare Windows CPython.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path, PureWindowsPath

from installer.build_msi import SUPPORT

NAME = "StaffPulse"
RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
POLICY_KEY = r"Software\Policies\StaffPulse"
REMEMBERED_KEY = r"Software\StaffPulse\Installer"
UNINSTALL_KEY = r"Software\Microsoft\Windows\CurrentVersion\Uninstall"
REG_SZ, REG_DWORD = 1, 4  # winreg's type numbers, named here so that the module imports on any OS
#: MSI property → the policy value it writes and its registry type.
POLICY = {"SERVERURL": ("ServerUrl", REG_SZ), "ENROLLTOKEN": ("EnrollToken", REG_SZ),
          "IDLETHRESHOLD": ("IdleThreshold", REG_DWORD)}
POLICY_VALUES = frozenset(value_name for value_name, _ in POLICY.values())
#: The package's MsiHiddenProperties: the key and its command-line copy (StaffPulse.wxs).
HIDDEN_PROPERTIES = ("ENROLLTOKEN", "CmdLineEnrollToken")
#: What a FAIL line shows instead of the key (shown).
HIDDEN = "(hidden)"
#: The messages StaffPulse.wxs's launch condition fails with (its InvalidProperty), by what was refused.
REFUSALS = {
    "SERVERURL": "SERVERURL must start with https:// (http:// only to this machine: localhost, 127.0.0.1, ::1); "
                 "it was {}.",
    "IDLETHRESHOLD": "IDLETHRESHOLD must be a whole number of seconds from 60 to 3600; it was {}.",
    "downgrade": "A newer version of StaffPulse is already installed: uninstall it first to go back to {}.",
}
MSI_LOGGING = "voicewarmupx"
ERROR_INSTALL_FAILURE = 1603
STEPS = ("refuse", "install", "upgrade", "repair", "same-version", "downgrade", "uninstall")
USER_DATA_PROBE = "lifecycle-check.txt"
MSIEXEC_TIMEOUT_S = 600

# What Wine 8's msiexec does differently (docs/installer.md), and what --wine does about it:
#: It does not implement ``msiexec /f``: repair as ``/famus`` does, spelled as properties of a maintenance install.
WINE_REPAIR = ("REINSTALL=ALL", "REINSTALLMODE=amus")
#: It ignores MsiHiddenProperties, so the key shows in its log; it may show only on these lines: the hidden
#: properties' own (the property dump) and the registry writes of the EnrollToken values.
WINE_KEY_LINES = re.compile(rf"^Property\(S\): (?:{'|'.join(HIDDEN_PROPERTIES)}) = |Name: EnrollToken, Value: ")
#: Removing the old version in an upgrade, it leaves the values of components whose condition no longer holds, so
#: the registry alone would hide an upgrade that forgot the policy: the log must show this run wrote them.
WINE_POLICY_WRITE = re.compile(r"^Key: HKEY_LOCAL_MACHINE\\Software\\Policies\\StaffPulse, Name: (\w+), "
                               r"Value: (.*)$", re.MULTILINE)
# It puts a per-machine shortcut in the installing user's Start menu, not the all-users one (start_menu).


@dataclass
class Machine:
    """The problems one step found on this machine."""

    problems: list[str] = field(default_factory=list)

    def require(self, ok: bool, problem: str) -> None:
        if not ok:
            self.problems.append(problem)


def hklm(key: str) -> tuple[dict[str, tuple[object, int]], list[str]]:
    """The values (name → (data, type)) and subkey names of ``HKLM\\key`` in the 64-bit view; none if absent."""
    if sys.platform != "win32":
        raise SystemExit("lifecycle_checks runs inside a Windows Python (Windows, or Wine)")
    else:  # an else, not a fall-through, so mypy on Linux does not call the Windows branch unreachable
        import winreg

        try:
            with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, key, 0,
                                winreg.KEY_READ | winreg.KEY_WOW64_64KEY) as handle:
                keys, values, _ = winreg.QueryInfoKey(handle)
                return ({name: (data, kind) for name, data, kind in map(partial(winreg.EnumValue, handle),
                                                                          range(values))},
                        [winreg.EnumKey(handle, index) for index in range(keys)])
        except FileNotFoundError:
            return {}, []


def registry(key: str) -> dict[str, tuple[object, int]]:
    return hklm(key)[0]


def products() -> dict[str, dict[str, object]]:
    """Programs and Features' entries named StaffPulse: product code → value name → data (side-by-side installs
    would show as two)."""
    found = {}
    for code in hklm(UNINSTALL_KEY)[1]:
        values = {name: data for name, (data, _) in registry(rf"{UNINSTALL_KEY}\{code}").items()}
        if values.get("DisplayName") == NAME:
            found[code] = values
    return found


def install_dir() -> PureWindowsPath:
    """The 64-bit Program Files folder (environment names are case-blind on Windows) + StaffPulse."""
    return PureWindowsPath(os.environ.get("PROGRAMW6432") or os.environ["PROGRAMFILES"]) / NAME


def main_exe() -> Path:
    return Path(install_dir() / f"{NAME}.exe")


def start_menu(wine: bool) -> Path:
    """Where the shortcut goes: the all-users Start menu; Wine 8 resolves ProgramMenuFolder to the user's."""
    base = os.environ["APPDATA"] if wine else os.environ["PROGRAMDATA"]
    return Path(base, "Microsoft", "Windows", "Start Menu", "Programs", f"{NAME}.lnk")


def user_data_probe() -> Path:
    return Path(os.environ["LOCALAPPDATA"], NAME, USER_DATA_PROBE)


def log_text(log: Path) -> str:
    """msiexec's log: UTF-16 on current Windows, ASCII under Wine. Dropping the NUL bytes and reading Latin-1
    turns either into text in which every ASCII string these checks look for reads as written."""
    if not log.exists():
        return ""
    return log.read_bytes().removeprefix(b"\xff\xfe").replace(b"\x00", b"").decode("latin-1")


def logged_property(text: str, name: str) -> str | None:
    """A property's last value in the log's property dump (``Property(S): NAME = value``)."""
    found = re.findall(rf"^Property\(S\): {re.escape(name)} = (.*?)\r?$", text, re.MULTILINE)
    return found[-1] if found else None


def expected_policy(policy: dict[str, str]) -> dict[str, tuple[object, int]]:
    return {POLICY[prop][0]: (int(value) if POLICY[prop][1] == REG_DWORD else value, POLICY[prop][1])
            for prop, value in policy.items()}


def shown(values: Mapping[str, object]) -> dict[str, object]:
    """``values`` (value name → data, or → (data, type)) as a FAIL line prints them: the EnrollToken's data as
    ``(hidden)``, as agent.policy logs it. IT runs these checks with a real deployment key, and their output lands
    in CI logs."""
    return {name: _hidden(data) if name == POLICY["ENROLLTOKEN"][0] else data for name, data in values.items()}


def _hidden(data: object) -> object:
    """The key's data replaced; its registry type, when paired with one, kept."""
    return (HIDDEN, data[1]) if isinstance(data, tuple) else HIDDEN


def check_policy(machine: Machine, policy_values: Mapping[str, tuple[object, int]],
                 remembered: Mapping[str, tuple[object, int]], policy: dict[str, str]) -> None:
    """The values under POLICY_KEY and REMEMBERED_KEY (name → (data, type)) are exactly ``policy`` (MSI property
    → value) written and remembered."""
    written = {name: data for name, data in policy_values.items() if name in POLICY_VALUES}
    machine.require(written == expected_policy(policy),
                    f"policy is {shown(written)}, expected {shown(expected_policy(policy))}")
    wanted: dict[str, tuple[object, int]] = {POLICY[prop][0]: (value, REG_SZ) for prop, value in policy.items()}
    wanted["StartMenuShortcut"] = (1, REG_DWORD)  # the shortcut component's key path
    machine.require(remembered == wanted, f"remembered values are {shown(remembered)}, expected {shown(wanted)}")


def check_installed(machine: Machine, version: str, policy: dict[str, str], wine: bool) -> None:
    """Installed once, at ``version``, with exactly ``policy`` (MSI property → value) written and remembered."""
    exe = main_exe()
    machine.require(exe.is_file(), f"{exe} is missing")
    run = registry(RUN_KEY).get(NAME)
    machine.require(run == (f'"{exe}"', REG_SZ), f"Run value {NAME} is {run!r}, expected {str(exe)!r} quoted")
    check_policy(machine, registry(POLICY_KEY), registry(REMEMBERED_KEY), policy)
    shortcut = start_menu(wine)
    link = shortcut.read_bytes() if shortcut.is_file() else b""
    machine.require(str(exe).encode() in link or str(exe).encode("utf-16-le") in link,
                    f"no Start menu shortcut {shortcut} to {exe}")
    entries = products()
    machine.require(len(entries) == 1, f"Programs and Features lists {NAME} {len(entries)} times, expected once")
    for entry in entries.values():
        details = {name: entry.get(name) for name in ("DisplayVersion", "Publisher", "Contact", "HelpLink",
                                                      "URLInfoAbout", "InstallLocation")}
        wanted_details = {"DisplayVersion": version, "Publisher": NAME, "Contact": SUPPORT["Contact"],
                          "HelpLink": SUPPORT["HelpUrl"], "URLInfoAbout": SUPPORT["AboutUrl"],
                          "InstallLocation": f"{install_dir()}\\"}
        machine.require(details == wanted_details, f"Programs and Features shows {details}, expected {wanted_details}")


def check_removed(machine: Machine, wine: bool) -> None:
    machine.require(not Path(install_dir()).exists(), f"{install_dir()} is still there")
    machine.require(NAME not in registry(RUN_KEY), f"Run value {NAME} is still there")
    left = {name for name in registry(POLICY_KEY) if name in POLICY_VALUES}
    machine.require(not left, f"policy values {sorted(left)} are still there")
    machine.require(not registry(REMEMBERED_KEY), f"HKLM\\{REMEMBERED_KEY} still holds values")
    machine.require(not start_menu(wine).exists(), f"{start_menu(wine)} is still there")
    machine.require(not products(), f"Programs and Features still lists {NAME}")


def check_key_hidden(machine: Machine, text: str, token: str, wine: bool) -> None:
    lines = [line for line in text.splitlines() if token in line and not (wine and WINE_KEY_LINES.search(line))]
    machine.require(not lines, f"the deployment key is in the MSI log (MsiHiddenProperties) on {len(lines)} line(s)")


def check_wine_wrote_policy(machine: Machine, text: str, policy: dict[str, str]) -> None:
    """WINE_POLICY_WRITE: this run's log shows each policy value written, its text as given (Wine prints no
    DWORD's data)."""
    written = dict(WINE_POLICY_WRITE.findall(text))
    wanted = {value_name: value if kind == REG_SZ else written.get(value_name)
              for prop, value in policy.items() for value_name, kind in [POLICY[prop]]}
    machine.require({name: data.rstrip("\r") for name, data in written.items()} == wanted,
                    f"the log shows the policy written as {shown(written)}, expected {shown(wanted)}")


def action(step: str, msi: Path, installed: list[str], wine: bool) -> list[str]:
    if step == "uninstall":
        return ["/x", str(msi)]
    if step == "repair" and not wine:
        return ["/famus", str(msi)]
    if step == "repair":
        return ["/i", installed[0] if installed else str(msi), *WINE_REPAIR]
    return ["/i", str(msi)]


@dataclass(frozen=True)
class Step:
    """One run of msiexec: ``msi`` (its ProductVersion ``version``), the properties ``given`` on its command
    line, and the policy ``expect``-ed from an earlier install."""

    name: str
    msi: Path
    version: str
    log: Path
    given: dict[str, str]
    expect: dict[str, str]
    wine: bool


def run_step(step: Step) -> list[str]:
    """Run ``step`` on this machine; the problems found, empty when it behaved as docs/installer.md says."""
    machine = Machine()
    before = products()
    remembered_key = registry(REMEMBERED_KEY).get("EnrollToken", ("", REG_SZ))[0]
    if step.name in ("refuse", "install"):
        machine.require(not before, f"{step.name} needs a machine without {NAME}; it has {sorted(before)}")
    if step.name == "repair":
        main_exe().unlink(missing_ok=True)
    if step.name == "uninstall":
        user_data_probe().parent.mkdir(parents=True, exist_ok=True)
        user_data_probe().write_text("a user's data, which uninstalling must keep\n", encoding="utf-8")
    step.log.parent.mkdir(parents=True, exist_ok=True)
    command = ["msiexec", *action(step.name, step.msi, list(before), step.wine), "/qn", "/norestart",
               "/l*v", str(step.log), *(f"{name}={value}" for name, value in step.given.items())]
    status = subprocess.run(command, timeout=MSIEXEC_TIMEOUT_S).returncode
    text = log_text(step.log)
    after = products()
    if step.name in ("refuse", "downgrade"):
        machine.require(status == ERROR_INSTALL_FAILURE, f"msiexec exited {status}, expected {ERROR_INSTALL_FAILURE}")
        [(refused, value)] = step.given.items() if step.name == "refuse" else [("downgrade", step.version)]
        message = REFUSALS[refused].format(value)
        machine.require(message in text, f"the log does not say {message!r}")
        machine.require(after == before, f"Programs and Features changed: {sorted(before)} → {sorted(after)}")
        if step.name == "refuse":
            check_removed(machine, step.wine)
    elif step.name == "uninstall":
        machine.require(status == 0, f"msiexec exited {status} (log: {step.log})")
        check_removed(machine, step.wine)
        machine.require(user_data_probe().is_file(), f"uninstalling removed the user's data {user_data_probe()}")
        user_data_probe().unlink(missing_ok=True)
    else:
        machine.require(status == 0, f"msiexec exited {status} (log: {step.log})")
        policy = {**step.expect, **step.given}
        check_installed(machine, step.version, policy, step.wine)
        if step.name == "install":
            machine.require(logged_property(text, "MsiLogging") == MSI_LOGGING, f"MsiLogging is not {MSI_LOGGING}")
        if step.name in ("upgrade", "same-version"):
            replaced = next(iter(before), None)
            detected = logged_property(text, "WIX_UPGRADE_DETECTED")
            machine.require(detected == replaced, f"WIX_UPGRADE_DETECTED is {detected}, expected {replaced}")
            machine.require(replaced not in after, f"{replaced} is still installed beside the new entry")
        if step.name == "repair":
            machine.require(list(after) == list(before), f"the repair changed the product: {before} → {after}")
        if step.wine and step.name != "install":
            check_wine_wrote_policy(machine, text, policy)
    token = step.given.get("ENROLLTOKEN") or step.expect.get("ENROLLTOKEN") or str(remembered_key)
    if token:
        check_key_hidden(machine, text, token, step.wine)
    return machine.problems


def _pairs(items: list[str]) -> dict[str, str]:
    pairs = dict(item.split("=", 1) for item in items)
    unknown = set(pairs) - set(POLICY)
    if unknown:
        raise SystemExit(f"unknown properties {sorted(unknown)}: the MSI's public properties are {sorted(POLICY)}")
    return pairs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run one step of the StaffPulse MSI's life cycle and check it.")
    parser.add_argument("step", choices=STEPS)
    parser.add_argument("msi", type=Path)
    parser.add_argument("--version", help="the MSI's ProductVersion (installer.release_version); all but refuse")
    parser.add_argument("--log", type=Path, required=True, help="msiexec's verbose log (/l*v)")
    parser.add_argument("--expect", nargs="*", default=[], metavar="PROP=VALUE",
                        help="policy the earlier install wrote, which this step must keep")
    parser.add_argument("--wine", action="store_true",
                        help="the machine is Wine: adapt to its msiexec (tests only, never on Windows)")
    parser.add_argument("properties", nargs="*", metavar="PROP=VALUE",
                        help="given to msiexec: install's policy, or refuse's one bad property")
    args = parser.parse_args(argv)
    given = _pairs(args.properties)
    if args.step == "refuse" and (len(given) != 1 or not set(given) <= set(REFUSALS)):
        parser.error(f"refuse takes one property to refuse, one of {sorted(set(REFUSALS) & set(POLICY))}")
    if args.step != "refuse" and not args.version:
        parser.error(f"{args.step} needs --version")
    problems = run_step(Step(args.step, args.msi.resolve(), args.version or "", args.log.resolve(), given,
                             _pairs(args.expect), args.wine))
    for problem in problems:
        print(f"FAIL {args.step}: {problem}", file=sys.stderr)
    if not problems:
        print(f"ok   {args.step} {args.msi.name}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
