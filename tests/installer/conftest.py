"""The installer suite freezes the agent once per session with the repo's own spec; everything else packs,
signs or runs that one frozen folder; the signing tests share one throwaway certificate."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from importlib.util import find_spec
from pathlib import Path

import pytest

from support.xdisplay import need_tool

ROOT = Path(__file__).resolve().parents[2]
FREEZE_TIMEOUT_S = 240


@pytest.fixture(scope="session")
def frozen(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``pyinstaller build_windows.spec`` into a temporary dist folder; the one-folder app it made."""
    out = tmp_path_factory.mktemp("freeze")
    done = subprocess.run([sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
                           "--distpath", str(out / "dist"), "--workpath", str(out / "build"),
                           str(ROOT / "build_windows.spec")],
                          cwd=ROOT, capture_output=True, text=True, timeout=FREEZE_TIMEOUT_S)
    assert done.returncode == 0, done.stderr[-3000:]
    folder = out / "dist" / "StaffPulse"
    assert (folder / "StaffPulse").is_file()
    return folder


@pytest.fixture(scope="session")
def with_secret_service() -> Callable[[list[str]], list[str]]:
    """Wraps a command to run inside a private D-Bus session with gnome-keyring's Secret Service unlocked, as
    on a desktop: the real keyring backend the agent uses on Linux."""
    session, daemon = need_tool("dbus-run-session"), need_tool("gnome-keyring-daemon")

    def wrap(command: list[str]) -> list[str]:
        return [session, "--", "sh", "-c",
                f'echo -n unlock | {daemon} --unlock --components=secrets >/dev/null && exec "$@"',
                "self-test", *command]

    return wrap


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A throwaway self-signed code-signing certificate, as the environment that sign.py reads."""
    folder = tmp_path_factory.mktemp("cert")
    openssl = need_tool("openssl")
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=StaffPulse Test Signing", "-addext", "extendedKeyUsage=codeSigning",
                    "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem")],
                   check=True, capture_output=True, timeout=60)
    subprocess.run([openssl, "pkcs12", "-export", "-inkey", str(folder / "key.pem"), "-in", str(folder / "cert.pem"),
                    "-out", str(folder / "cert.pfx"), "-passout", "pass:throwaway"],
                   check=True, capture_output=True, timeout=60)
    return {"STAFFPULSE_SIGN_PFX": str(folder / "cert.pfx"), "STAFFPULSE_SIGN_PASSWORD": "throwaway",
            "STAFFPULSE_SIGN_CA": str(folder / "cert.pem")}


@pytest.fixture(scope="session")
def windows_stub() -> Path:
    """A real Windows PE: the GUI launcher stub that pip's distlib ships (our own exe exists only on Windows)."""
    spec = find_spec("pip")
    assert spec is not None and spec.submodule_search_locations
    stub = Path(spec.submodule_search_locations[0]) / "_vendor" / "distlib" / "w64.exe"
    assert stub.read_bytes()[:2] == b"MZ"
    return stub
