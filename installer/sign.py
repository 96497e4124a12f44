"""Authenticode-sign StaffPulse's exe and MSI, then verify each signature; the certificate comes from the
environment only, never from the repo or the command line.

    python -m installer.sign dist/StaffPulse/StaffPulse.exe      # before build_msi packs the folder
    python -m installer.sign StaffPulse.msi                     # after
    python -m installer.sign --verify StaffPulse.msi            # check only

Sign the exe before the MSI is built (the MSI carries the exe as it was), then the MSI. Windows uses signtool
with an RFC 3161 timestamp (the signature outlives the certificate); elsewhere osslsigncode (Debian: apt-get
install osslsigncode) does the same, timestamped when a timestamp URL is set (tests run offline).

Environment:
    STAFFPULSE_SIGN_PFX           a .pfx/.p12 file, or
    STAFFPULSE_SIGN_PFX_BASE64    the same file base64-encoded (how CI secrets hold binaries)
    STAFFPULSE_SIGN_PASSWORD      its password
    STAFFPULSE_SIGN_TIMESTAMP_URL RFC 3161 server (signtool: default DEFAULT_TIMESTAMP)
    STAFFPULSE_SIGN_CA            PEM of the root to verify against (osslsigncode; tests: their throwaway root)

New code-signing certificates live in hardware or a cloud signing service, so release builds sign with Azure
Artifact Signing in .github/workflows/release.yml; a PFX is for tests and self-managed certificates. The
password goes to osslsigncode through a private file, never on a command line other users can read.
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
from pathlib import Path

DESCRIPTION = "StaffPulse"
DEFAULT_TIMESTAMP = "http://timestamp.digicert.com"


class SignError(Exception):
    pass


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
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise SignError(f"{what} failed: {(done.stdout + done.stderr).strip()[-1500:]}")
    return done.stdout


class Certificate:
    """The PFX named by the environment, materialised in a private folder for as long as it is used."""

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
        self.timestamp = environ.get("STAFFPULSE_SIGN_TIMESTAMP_URL") or None

    def close(self) -> None:
        self._scratch.cleanup()


def sign(path: Path, cert: Certificate, system: str = sys.platform) -> None:
    if system == "win32":
        _run([_tool("signtool"), "sign", "/fd", "SHA256", "/f", str(cert.pfx), "/p", cert.password,
              "/tr", cert.timestamp or DEFAULT_TIMESTAMP, "/td", "SHA256", "/d", DESCRIPTION, str(path)],
             f"signtool sign {path.name}")
        return
    signed = path.with_name(path.name + ".signing")
    command = [_tool("osslsigncode"), "sign", "-pkcs12", str(cert.pfx), "-readpass", str(cert.password_file),
               "-n", DESCRIPTION, "-h", "sha256", "-in", str(path), "-out", str(signed)]
    if cert.timestamp:
        command[2:2] = ["-ts", cert.timestamp]
    try:
        _run(command, f"osslsigncode sign {path.name}")
        os.replace(signed, path)
    finally:
        signed.unlink(missing_ok=True)


def verify(path: Path, ca: str | None = None, system: str = sys.platform) -> str:
    """The verifier's report; ``SignError`` when the signature is missing, broken or untrusted."""
    if system == "win32":
        return _run([_tool("signtool"), "verify", "/pa", "/v", str(path)], f"signtool verify {path.name}")
    command = [_tool("osslsigncode"), "verify", "-in", str(path)]
    if ca:
        command[2:2] = ["-CAfile", ca]
    return _run(command, f"osslsigncode verify {path.name}")


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Sign and verify StaffPulse's exe and MSI (Authenticode).")
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--verify", action="store_true", help="only verify the signatures")
    args = parser.parse_args(argv)
    env = os.environ if environ is None else environ
    cert: Certificate | None = None
    try:
        for path in args.files:
            if not path.is_file():
                raise SignError(f"{path}: no such file")
        if not args.verify:
            cert = Certificate(env)
        for path in args.files:
            if cert is not None:
                sign(path, cert)
            verify(path, env.get("STAFFPULSE_SIGN_CA") or None)
            print(f"{path}: {'signature verified' if args.verify else 'signed and verified'}")
    except SignError as error:
        print(f"sign: {error}", file=sys.stderr)
        return 1
    finally:
        if cert is not None:
            cert.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
