"""Authenticode-sign StaffPulse's PE files and MSI with an RFC 3161 timestamp, then verify each signature:
trusted, timestamped, by the expected signer. The certificate comes from the environment only, never from the
repo or the command line.

    python -m installer.sign --sign-folder dist/StaffPulse       # every unsigned PE, before build_msi packs it
    python -m installer.sign StaffPulse.msi                     # after
    python -m installer.sign --verify StaffPulse.msi            # check only
    python -m installer.sign --verify-folder dist/StaffPulse     # exit 1 naming every PE without a good signature
    python -m installer.sign --list-unsigned dist/StaffPulse     # what --sign-folder would sign, for another signer

Windows uses signtool; elsewhere osslsigncode (Debian: apt-get install osslsigncode). Signing always asks a
timestamp authority (STAFFPULSE_SIGN_TIMESTAMP_URL, else DEFAULT_TIMESTAMP): a signature without a timestamp
stops being valid when its certificate expires, so one that cannot be timestamped is an error. Verification
reads the verifier's report (installer/signature.py), because osslsigncode exits 0 whatever the timestamp.

Which PEs are signed (``unsigned``, for ``sign_folder`` and for the release's Azure signing step through
``--list-unsigned``): each PE in the folder that carries no signature — our StaffPulse.exe
and the DLLs and .pyd modules wheels ship unsigned (pywin32's, mypyc-compiled modules). Smart App Control and
WDAC publisher rules judge every module a process loads, and we ship these files pinned by hash, so they carry
our signature. A PE that already carries a vendor's signature (Microsoft's runtime, the PSF's python3*.dll,
the Qt Company's Qt DLLs) is left as it is: re-signing would replace the vendor's word with ours. The folder
check (``folder_problems``) then requires every PE's signature to verify with a verified timestamp, and our own
exe's to name the expected signer.

Environment:
    STAFFPULSE_SIGN_PFX           a .pfx/.p12 file, or
    STAFFPULSE_SIGN_PFX_BASE64    the same file base64-encoded (how CI secrets hold binaries)
    STAFFPULSE_SIGN_PASSWORD      its password
    STAFFPULSE_SIGN_TIMESTAMP_URL RFC 3161 server (default DEFAULT_TIMESTAMP)
    STAFFPULSE_SIGN_SIGNER        the CN verification requires of our files' signer (or --signer)
    STAFFPULSE_SIGN_CA            PEM of the roots the signers chain to (osslsigncode; default: the system bundle)
    STAFFPULSE_SIGN_TSA_CA        PEM of the roots timestamp authorities chain to (osslsigncode; the same default)

signtool uses Windows' certificate store instead of the two CA files. New code-signing certificates live in
hardware or a cloud signing service, so release builds sign with Azure Artifact Signing in
.github/workflows/release.yml; a PFX is for tests and self-managed certificates. The password goes to
osslsigncode through a private file (mode 0600), never on a command line other users can read. signtool has no
such option and takes it with /p, on its command line: use a PFX with signtool only on a machine no one else
uses, such as a single-use Windows CI runner.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from installer import pe
from installer.signature import Signature, SignError, parse_osslsigncode, parse_signtool

__all__ = ["Certificate", "Expected", "SignError", "Signature", "folder_problems", "sign", "sign_folder", "unsigned",
           "verify"]

DESCRIPTION = "StaffPulse"
DEFAULT_TIMESTAMP = "http://timestamp.digicert.com"
#: Our own PE files in the frozen folder, which must name the expected signer; everything else is third-party.
OWN_PE_FILES = ("StaffPulse.exe",)
TOOL_TIMEOUT_S = 300


def _windows_sdk_signtool() -> str | None:
    """signtool is in the Windows SDK, which does not put it on PATH (GitHub's windows runners included)."""
    kits = Path(os.environ.get("PROGRAMFILES(X86)", r"C:\Program Files (x86)")) / "Windows Kits" / "10" / "bin"
    found = sorted(kits.glob("10.*/x64/signtool.exe"), key=lambda p: tuple(int(n) for n in p.parts[-3].split(".")))
    return str(found[-1]) if found else None


def _tool(name: str) -> str:
    path = shutil.which(name) or (_windows_sdk_signtool() if name == "signtool" else None)
    if path is None:
        raise SignError(f"{name} is not installed" + (" (Debian: apt-get install osslsigncode)"
                                                      if name == "osslsigncode" else " (Windows SDK)"))
    return path


def _run(command: list[str], what: str) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S)
    if done.returncode != 0:
        raise SignError(f"{what} failed: {(done.stdout + done.stderr).strip()[-1500:]}")
    return done.stdout


@dataclass(frozen=True)
class Expected:
    """What a good signature must show. ``signer``: the CN our files are signed by (None: any trusted signer,
    for third-party files); ``ca``/``tsa_ca``: PEM roots for osslsigncode (None: the system bundle)."""

    signer: str | None
    ca: str | None = None
    tsa_ca: str | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], signer: str | None = None) -> Expected:
        name = signer or environ.get("STAFFPULSE_SIGN_SIGNER")
        if not name:
            raise SignError("no expected signer: set STAFFPULSE_SIGN_SIGNER (the signing certificate's CN) "
                            "or pass --signer")
        return cls(name, environ.get("STAFFPULSE_SIGN_CA") or None, environ.get("STAFFPULSE_SIGN_TSA_CA") or None)


class Certificate:
    """The PFX named by the environment, materialised in a private folder for as long as it is used, and the
    timestamp authority to sign with."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        encoded = environ.get("STAFFPULSE_SIGN_PFX_BASE64")
        named = environ.get("STAFFPULSE_SIGN_PFX")
        data: bytes | None = None
        if encoded:
            try:
                data = base64.b64decode(encoded, validate=True)
            except binascii.Error:
                raise SignError("STAFFPULSE_SIGN_PFX_BASE64 is not valid base64") from None
        elif not named:
            raise SignError("no certificate: set STAFFPULSE_SIGN_PFX or STAFFPULSE_SIGN_PFX_BASE64")
        elif not Path(named).is_file():
            raise SignError(f"STAFFPULSE_SIGN_PFX: {named} is not a file")
        self._scratch = tempfile.TemporaryDirectory(prefix="staffpulse-sign-")
        folder = Path(self._scratch.name)
        self.pfx = folder / "signing.pfx" if data is not None else Path(str(named))
        if data is not None:
            self.pfx.write_bytes(data)
        self.password = environ.get("STAFFPULSE_SIGN_PASSWORD", "")
        self.password_file = folder / "password"
        descriptor = os.open(self.password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(self.password)
        self.timestamp = environ.get("STAFFPULSE_SIGN_TIMESTAMP_URL") or DEFAULT_TIMESTAMP

    def close(self) -> None:
        self._scratch.cleanup()


def _verify(path: Path, shown: Path, expected: Expected, system: str) -> Signature:
    """Verify ``path``, naming ``shown`` in errors (the file being signed, while its signed copy is checked)."""
    if system == "win32":
        command = [_tool("signtool"), "verify", "/pa", "/v", str(path)]
    else:
        command = [_tool("osslsigncode"), "verify", "-in", str(path)]
        for option, roots in (("-CAfile", expected.ca), ("-TSA-CAfile", expected.tsa_ca)):
            if roots:
                command[2:2] = [option, roots]
    done = subprocess.run(command, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S)
    parse = parse_signtool if system == "win32" else parse_osslsigncode
    return parse(shown, done.stdout + done.stderr, done.returncode, expected.signer)


def verify(path: Path, expected: Expected, system: str = sys.platform) -> Signature:
    """The signer and timestamp of ``path``'s signature; ``SignError`` naming the file unless the signature
    verifies, is timestamped by a TSA that verifies, and names ``expected.signer`` (when set)."""
    return _verify(path, path, expected, system)


def sign(path: Path, cert: Certificate, expected: Expected, system: str = sys.platform) -> Signature:
    """Sign ``path`` (a PE or an MSI) with an RFC 3161 timestamp and verify it. With osslsigncode the file is
    replaced only once its signed copy verifies; signtool signs in place."""
    if system == "win32":
        _run([_tool("signtool"), "sign", "/fd", "SHA256", "/f", str(cert.pfx), "/p", cert.password,
              "/tr", cert.timestamp, "/td", "SHA256", "/d", DESCRIPTION, str(path)], f"signtool sign {path}")
        return verify(path, expected, system)
    signed = path.with_name(path.name + ".signing")
    try:
        _run([_tool("osslsigncode"), "sign", "-pkcs12", str(cert.pfx), "-readpass", str(cert.password_file),
              "-ts", cert.timestamp, "-n", DESCRIPTION, "-h", "sha256", "-in", str(path), "-out", str(signed)],
             f"osslsigncode sign {path}")
        signature = _verify(signed, path, expected, system)
        os.replace(signed, path)
        return signature
    finally:
        signed.unlink(missing_ok=True)


def _carries_signature(path: Path) -> bool:
    try:
        return pe.has_signature(path)
    except ValueError as error:  # a PE whose headers are cut short: neither signable nor shippable
        raise SignError(str(error)) from None


def unsigned(folder: Path) -> list[Path]:
    """Every PE in ``folder`` that carries no signature: what we sign (see the module docstring for why
    third-party ones too); vendor-signed ones are left untouched."""
    return [path for path in pe.pe_files(folder) if not _carries_signature(path)]


def sign_folder(folder: Path, cert: Certificate, expected: Expected, system: str = sys.platform) -> list[Path]:
    """Sign every PE ``unsigned`` names in ``folder``; returns the files signed."""
    to_sign = unsigned(folder)
    for path in to_sign:
        sign(path, cert, expected, system)
    return to_sign


def folder_problems(folder: Path, expected: Expected, system: str = sys.platform) -> dict[Path, str]:
    """Every PE in ``folder`` without a good signature, with the reason: unsigned, not verifying, not
    timestamped, or (our own exe) not by ``expected.signer`` or not there at all, so that a folder without
    our exe (a Linux build, a wrong path) cannot pass. Empty when the folder is ready to ship."""
    third_party = Expected(None, expected.ca, expected.tsa_ca)
    problems = {folder / name: f"{folder / name}: missing (is this the Windows build?)"
                for name in OWN_PE_FILES if not pe.is_pe(folder / name)}
    for path in pe.pe_files(folder):
        own = path.parent == folder and path.name in OWN_PE_FILES
        try:
            if _carries_signature(path):
                verify(path, expected if own else third_party, system)
            else:
                problems[path] = f"{path}: not signed"
        except SignError as error:
            problems[path] = str(error)
    return problems


def _sign_files(paths: list[Path], env: Mapping[str, str], expected: Expected, folders: bool) -> None:
    cert = Certificate(env)
    try:
        for path in paths:
            if folders:
                signed = sign_folder(path, cert, expected)
                print(f"{path}: signed {len(signed)} PE file(s): {', '.join(p.name for p in signed) or 'none'}")
            else:
                signature = sign(path, cert, expected)
                print(f"{path}: signed by {signature.signer}, timestamped {signature.timestamp.isoformat()}")
    finally:
        cert.close()


def _check(paths: list[Path], expected: Expected, folders: bool) -> int:
    failed = 0
    for path in paths:
        if folders:
            problems = folder_problems(path, expected)
            for reason in problems.values():
                print(reason, file=sys.stderr)
            failed += len(problems)
            if not problems:
                print(f"{path}: every PE file is signed, timestamped and verified")
        else:
            signature = verify(path, expected)
            print(f"{path}: signature verified: signed by {signature.signer}, "
                  f"timestamped {signature.timestamp.isoformat()}")
    return 1 if failed else 0


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Sign and verify StaffPulse's PE files and MSI (Authenticode, "
                                                 "RFC 3161 timestamped).")
    parser.add_argument("paths", nargs="+", type=Path, help="files (or folders with the --*-folder modes)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--verify", action="store_true", help="only verify the files' signatures")
    mode.add_argument("--sign-folder", action="store_true", help="sign every unsigned PE in the folders")
    mode.add_argument("--verify-folder", action="store_true",
                      help="exit 1 naming every PE in the folders without a good signature")
    mode.add_argument("--list-unsigned", action="store_true",
                      help="print the absolute path of every PE in the folders that --sign-folder would sign")
    parser.add_argument("--signer", help="the CN our files must be signed by (default: $STAFFPULSE_SIGN_SIGNER)")
    args = parser.parse_args(argv)
    env = os.environ if environ is None else environ
    folders = args.sign_folder or args.verify_folder or args.list_unsigned
    try:
        for path in args.paths:
            if not (path.is_dir() if folders else path.is_file()):
                raise SignError(f"{path}: no such {'folder' if folders else 'file'}")
        if args.list_unsigned:  # absolute: the signing step may run in another folder (release.yml's Azure step)
            for folder in args.paths:
                for path in unsigned(folder):
                    print(path.absolute())
            return 0
        expected = Expected.from_environ(env, args.signer)
        if args.verify or args.verify_folder:
            return _check(args.paths, expected, folders)
        _sign_files(args.paths, env, expected, folders)
    except SignError as error:
        print(f"sign: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
