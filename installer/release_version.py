"""One version per release: the tag, protocol/version.py, the exe's version resource and the MSI must agree.

    python -m installer.release_version --tag v0.2.0 --exe dist/StaffPulse/StaffPulse.exe --msi StaffPulse.msi

Prints the version and exits 0, or names every disagreement and exits 1. The release workflow runs it before
building (tag against the package) and on what it built, so a tag pushed without bumping protocol/version.py
fails instead of shipping "0.1.0" inside a v0.2.0 release. The agent reports ``protocol.version.VERSION`` at
enrollment (tests/sync/test_enrollment_client.py checks the server records exactly that), the spec writes it
into the exe's version resource (what Explorer and inventory tools show) and build_msi into ProductVersion
(what Programs and Features shows and what MajorUpgrade compares).

Windows Installer compares only major.minor.build, each at most 255.255.65535, so a version outside that is
refused too: two releases differing in a fourth field would not upgrade each other.
"""

from __future__ import annotations

import argparse
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

from protocol.version import VERSION

TAG = re.compile(r"v(\d+\.\d+\.\d+)")
MSI_LIMITS = (255, 255, 65535)


class VersionError(Exception):
    pass


def tag_version(tag: str) -> str:
    """``v1.2.3`` → ``1.2.3``; anything else is not a release tag."""
    match = TAG.fullmatch(tag)
    if match is None:
        raise VersionError(f"tag {tag!r} is not a release tag vMAJOR.MINOR.PATCH")
    return match.group(1)


def check_msi_range(version: str) -> None:
    parts = version.split(".")
    if len(parts) != 3 or not all(p.isdigit() for p in parts) or any(
            int(p) > limit for p, limit in zip(parts, MSI_LIMITS, strict=True)):
        raise VersionError(f"version {version!r} is not MAJOR.MINOR.PATCH within 255.255.65535 (Windows Installer)")


def exe_version(exe: Path) -> str:
    """The ``ProductVersion`` string of a PE's version resource (VS_VERSIONINFO's StringTable), read without
    Windows APIs so the Linux job can check it. A String entry is ``wLength, wValueLength, wType`` (3 WORDs),
    the key in UTF-16 with its NUL, padding to 32 bits, then ``wValueLength`` UTF-16 characters."""
    data = exe.read_bytes()
    key = "ProductVersion\0".encode("utf-16-le")
    at = data.find(key)
    if at < 6:
        raise VersionError(f"{exe}: no ProductVersion in a version resource")
    start = at - 6
    _, characters, text = struct.unpack_from("<HHH", data, start)
    value = start + (6 + len(key) + 3) // 4 * 4
    if text != 1:
        raise VersionError(f"{exe}: ProductVersion is not a text value")
    return data[value:value + 2 * characters].decode("utf-16-le").rstrip("\0")


def msi_version(msi: Path) -> str:
    """The MSI's ProductVersion property, read with msitools' msiinfo."""
    tool = shutil.which("msiinfo")
    if tool is None:
        raise VersionError("msiinfo is not installed (Debian: apt-get install msitools)")
    done = subprocess.run([tool, "export", str(msi), "Property"], capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise VersionError(f"{msi}: msiinfo failed: {done.stderr.strip()}")
    rows = dict(line.split("\t", 1) for line in done.stdout.splitlines()[3:] if "\t" in line)
    if "ProductVersion" not in rows:
        raise VersionError(f"{msi}: no ProductVersion property")
    return rows["ProductVersion"]


def disagreements(version: str, tag: str | None, exe: Path | None, msi: Path | None) -> list[str]:
    """What differs from ``version`` (protocol/version.py's), each named; empty when everything agrees."""
    found: list[str] = []
    try:
        check_msi_range(version)
    except VersionError as error:
        found.append(str(error))
    sources: list[tuple[str, str]] = []
    try:
        if tag is not None:
            sources.append((f"tag {tag}", tag_version(tag)))
        if exe is not None:
            sources.append((f"{exe.name} version resource", exe_version(exe)))
        if msi is not None:
            sources.append((f"{msi.name} ProductVersion", msi_version(msi)))
    except (VersionError, OSError) as error:
        found.append(str(error))
    found += [f"{what} says {theirs}, protocol/version.py says {version}"
              for what, theirs in sources if theirs != version]
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check that the tag, package, exe and MSI versions agree.")
    parser.add_argument("--tag", help="the release tag, vMAJOR.MINOR.PATCH (GITHUB_REF_NAME)")
    parser.add_argument("--exe", type=Path, help="the frozen StaffPulse.exe")
    parser.add_argument("--msi", type=Path, help="the built MSI")
    args = parser.parse_args(argv)
    found = disagreements(VERSION, args.tag, args.exe, args.msi)
    for problem in found:
        print(f"release_version: {problem}", file=sys.stderr)
    if found:
        return 1
    print(VERSION)
    return 0


if __name__ == "__main__":
    sys.exit(main())
