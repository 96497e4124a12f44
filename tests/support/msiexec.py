"""Wine's real msiexec on a prefix, and what an install leaves there: registry values (read from the prefix's
saved hive), the verbose log, the Programs and Features entry. tests/installer/test_msi_wine.py uses it with a
small Windows payload; an end-to-end test with the frozen Windows app uses it the same way (any MSI will do).

Wine reports a Windows exit code to Linux as an 8-bit process status, so 1603 (ERROR_INSTALL_FAILURE) arrives as
67: ``Run.status`` keeps the status and ``windows_status`` says what a Windows code looks like through Wine.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from support.wine import WinePrefix, need, windows_path
from support.xdisplay import need_tool

ERROR_INSTALL_FAILURE = 1603
UNINSTALL = r"HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall"
MSIEXEC_TIMEOUT_S = 300
_SECTION = re.compile(r"^\[(.+)\] \d+$")
_ENTRY = re.compile(r'^(?:"((?:[^"\\]|\\.)*)"|@)=(.*)$')


def msi_table(msi: Path, table: str) -> list[list[str]]:
    """The rows of an MSI's ``table``, read by msiinfo (its export's three header lines dropped)."""
    out = subprocess.run([need_tool("msiinfo"), "export", str(msi), table], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    return [line.split("\t") for line in out.splitlines()[3:]]


def windows_status(code: int) -> int:
    """A Windows exit code as Wine's process status: its low 8 bits."""
    return code & 0xFF


@dataclass(frozen=True)
class Run:
    """One msiexec run: its exit status (see ``windows_status``) and its verbose log."""

    status: int
    log: str

    def property(self, name: str) -> str | None:
        """A property's final value, from the log's property dump (``Property(S): NAME = value``)."""
        found = re.findall(rf"^Property\(S\): {re.escape(name)} = (.*)$", self.log, re.MULTILINE)
        return found[-1] if found else None


def msiexec(prefix: WinePrefix, args: list[str], log: Path) -> Run:
    """``msiexec args… /l*v log`` to completion. Wine's log starts with a few UTF-16 lines and continues in
    ASCII, so it is read as bytes and decoded leniently."""
    done = prefix.run(["msiexec", *args, "/l*v", windows_path(log)], timeout=MSIEXEC_TIMEOUT_S)
    # The wineserver saves the registry as it exits, once msiexec's helpers have: wait for it.
    subprocess.run([need("wineserver"), "-w"], env=prefix.env(), timeout=MSIEXEC_TIMEOUT_S, check=True)
    text = log.read_bytes().decode("utf-8", "replace") if log.exists() else ""
    return Run(done.returncode, text)


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), text)


def machine_registry(prefix: WinePrefix) -> dict[str, dict[str, tuple[str, str]]]:
    """HKEY_LOCAL_MACHINE as Wine saved it in the prefix's ``system.reg``: key (lower case, as Windows compares
    keys) -> value name -> (type, data), strings and DWORDs as ``reg query`` prints them. Read after ``msiexec``
    waited for the wineserver to save it; reading the file takes milliseconds where each ``wine reg`` starts Wine
    (seconds)."""
    keys: dict[str, dict[str, tuple[str, str]]] = {}
    values: dict[str, tuple[str, str]] = {}
    for line in (prefix.path / "system.reg").read_text(encoding="utf-8", errors="replace").splitlines():
        if section := _SECTION.match(line):
            values = keys.setdefault(_unescape(section.group(1)).lower(), {})
        elif value := _ENTRY.match(line):
            name, data = _unescape(value.group(1) or "(Default)"), value.group(2)
            if data.startswith('"'):
                values[name] = ("REG_SZ", _unescape(data[1:-1]))
            elif data.startswith('str(2):"'):
                values[name] = ("REG_EXPAND_SZ", _unescape(data[8:-1]))
            elif data.startswith("dword:"):
                values[name] = ("REG_DWORD", hex(int(data[6:], 16)))
            else:
                values[name] = ("REG_BINARY", data)
    return keys


def registry_values(prefix: WinePrefix, key: str) -> dict[str, tuple[str, str]] | None:
    """The values of ``HKLM\\…`` key (64-bit view); None when the key is missing."""
    return machine_registry(prefix).get(key.removeprefix("HKLM\\").lower())


def installed_products(prefix: WinePrefix, name: str) -> dict[str, dict[str, str]]:
    """Programs and Features' entries whose DisplayName is ``name``: product code -> value name -> data."""
    under = UNINSTALL.removeprefix("HKLM\\").lower() + "\\"
    return {key.removeprefix(under).upper(): {value: data for value, (_, data) in values.items()}
            for key, values in machine_registry(prefix).items()
            if key.startswith(under) and values.get("DisplayName", ("", ""))[1] == name}
