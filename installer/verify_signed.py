"""Refuse a release with anything unsigned: every Windows PE (exe, dll, pyd, by content, not by name) under the
folders given and every file given must carry a valid Authenticode signature, or this exits 1 naming each one.

    python -m installer.verify_signed dist/StaffPulse                 # the frozen folder, before it is packed
    python -m installer.verify_signed StaffPulse-0.2.0-x64.msi        # the MSI after signing
    python -m installer.verify_signed "C:\\Program Files\\StaffPulse" # what the MSI installed (release.yml)
    python -m installer.verify_signed --list-unsigned dist/StaffPulse  # what the signing step must sign

Why a separate gate: the release workflow's signing steps are conditional (Azure or a PFX, whichever secrets
are set), so a build without secrets used to skip them and upload an unsigned MSI with a green tick. This runs
unconditionally after signing and fails the build instead. Checking the installed folder too proves the MSI
carries the signed files, not the unsigned ones from before signing.

Each file is checked with ``installer.sign.verify`` (signtool on Windows, osslsigncode elsewhere), so the
rules are the signer's own: trusted chain (``STAFFPULSE_SIGN_CA`` for a private root) and timestamp. A PE
that already carries a valid signature (python3xx.dll by the PSF, Qt's DLLs by The Qt Company) keeps it; the
release signs the rest (``--list-unsigned``), ours and the unsigned ones from wheels, so that WDAC/AppLocker
rules by publisher cover the whole install.
"""

from __future__ import annotations

import argparse
import os
import struct
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from installer import sign

PE_OFFSET_FIELD = 0x3C  # e_lfanew: where the DOS header says the PE header starts


def is_portable_executable(path: Path) -> bool:
    """True for a Windows PE image (exe, dll, pyd, sys…): a DOS header whose e_lfanew points at ``PE\\0\\0``."""
    try:
        with path.open("rb") as handle:
            header = handle.read(PE_OFFSET_FIELD + 4)
            if len(header) < PE_OFFSET_FIELD + 4 or header[:2] != b"MZ":
                return False
            (offset,) = struct.unpack_from("<I", header, PE_OFFSET_FIELD)
            handle.seek(offset)
            return handle.read(4) == b"PE\0\0"
    except OSError:
        return False


def files_to_verify(targets: Iterable[Path]) -> list[Path]:
    """Each file named, and each PE under each folder named (recursively, sorted); a missing target is an error."""
    found: list[Path] = []
    for target in targets:
        if target.is_dir():
            found += sorted(p for p in target.rglob("*") if p.is_file() and is_portable_executable(p))
        elif target.is_file():
            found.append(target)
        else:
            raise sign.SignError(f"{target}: no such file or folder")
    return found


def unsigned(files: Iterable[Path], ca: str | None) -> dict[Path, str]:
    """The files whose signature is missing, broken or untrusted, each with the verifier's reason."""
    failed: dict[Path, str] = {}
    for path in files:
        try:
            sign.verify(path, ca)
        except sign.SignError as error:
            failed[path] = str(error).splitlines()[0] if str(error) else "not verified"
    return failed


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fail unless every PE and file given is Authenticode-signed.")
    parser.add_argument("targets", nargs="+", type=Path, help="files, and folders to search for PE files")
    parser.add_argument("--list-unsigned", action="store_true",
                        help="print the absolute paths that need a signature, one a line, and exit 0")
    args = parser.parse_args(argv)
    env = os.environ if environ is None else environ
    try:
        files = files_to_verify(args.targets)
        if not files:
            raise sign.SignError(f"nothing to verify in {', '.join(map(str, args.targets))}")
        failed = unsigned(files, env.get("STAFFPULSE_SIGN_CA") or None)
    except sign.SignError as error:
        print(f"verify_signed: {error}", file=sys.stderr)
        return 1
    if args.list_unsigned:
        print("\n".join(str(path.absolute()) for path in failed))  # the signing step may run elsewhere
        return 0
    for path in files:
        print(f"UNSIGNED {path}: {failed[path]}" if path in failed else f"signed   {path}",
              file=sys.stderr if path in failed else sys.stdout)
    if failed:
        print(f"verify_signed: {len(failed)} of {len(files)} files not validly signed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
