"""The installer suite freezes the agent once per session with the repo's own spec, on Linux (``frozen``) and on
Windows under Wine (``frozen_windows``); everything else packs, signs or runs those frozen folders: the Windows
freeze signed as the release signs it (``signed_windows``) and packed into the signed MSIs of this version and
the next (``product_msis``). The MSI's full life cycle under Wine packs a small Windows payload
(``windows_payload``) instead, so that its many steps run in seconds.
Signing uses one throwaway code-signing certificate and one local RFC 3161 timestamp authority per session
(tests/support/signing.py): there is no internet here, and signing needs a TSA."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from installer import build_msi, pe, sign
from protocol.version import VERSION
from support.signing import (
    SignedFolder,
    TimestampAuthority,
    make_certificate,
    sha256,
    timestamp_authority,
)
from support.wine import WineError, WinePrefix, windows_path
from support.xdisplay import need_tool

ROOT = Path(__file__).resolve().parents[2]
FREEZE_TIMEOUT_S = 240
SIGNER = "StaffPulse Test Signing"
WINE_FREEZE_TIMEOUT_S = 480  # 2-4 min on this 2-core machine with both cores busy
#: The product MSIs packed from the signed freeze: the release's version, and the next one to upgrade to.
PRODUCT_VERSIONS = {"release": VERSION,
                    "upgrade": ".".join([*VERSION.split(".")[:2], str(int(VERSION.split(".")[2]) + 1)])}


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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The session's Windows freeze runs in the setup of the first test that asks for it, and pytest-timeout
    counts setup: those tests get the freeze's own timeout on top of the suite's."""
    for item in items:
        if "frozen_windows" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.timeout(WINE_FREEZE_TIMEOUT_S + float(item.config.getini("timeout"))))


@pytest.fixture(scope="session")
def freezing_prefix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WinePrefix]:
    """The session's Wine prefix for PyInstaller (the ``wine`` fixture is per module). No display: freezing
    opens no window."""
    try:
        prefix = WinePrefix.fresh(tmp_path_factory.mktemp("wine-freeze") / "prefix")
    except WineError as error:
        pytest.fail(str(error))
    yield prefix
    prefix.close()


@pytest.fixture(scope="session")
def frozen_windows(freezing_prefix: WinePrefix, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``build_windows.spec`` frozen by PyInstaller under the Windows CPython in Wine, as the release freezes it
    on Windows: the one-folder app (``StaffPulse.exe`` and ``_internal/``), made once per session."""
    out = tmp_path_factory.mktemp("freeze-windows")
    done = freezing_prefix.python(["-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
                                   "--distpath", windows_path(out / "dist"), "--workpath", windows_path(out / "build"),
                                   windows_path(ROOT / "build_windows.spec")], timeout=WINE_FREEZE_TIMEOUT_S)
    assert done.returncode == 0, done.stderr[-3000:]
    folder = out / "dist" / "StaffPulse"
    assert (folder / "StaffPulse.exe").is_file(), sorted(path.name for path in folder.iterdir())
    return folder


@pytest.fixture(scope="session")
def signed_windows(frozen_windows: Path, certificate: dict[str, str], tmp_path_factory: pytest.TempPathFactory,
                   ) -> SignedFolder:
    """``frozen_windows`` signed as the release signs it before packing (``installer.sign.sign_folder``: every PE
    that carries no signature), in a copy of its own: files are hard-linked, and signing replaces a file by its
    signed copy, so the unsigned freeze stays as it was for the tests that read it. The vendor-signed PEs' digests
    are taken before signing, since their hard-linked twins in the freeze would change with them."""
    folder = tmp_path_factory.mktemp("signed-windows") / "StaffPulse"
    shutil.copytree(frozen_windows, folder, copy_function=os.link)
    unsigned = set(sign.unsigned(folder))
    vendor = {path.relative_to(folder): sha256(path) for path in pe.pe_files(folder) if path not in unsigned}
    cert = sign.Certificate(certificate)
    try:
        signed = sign.sign_folder(folder, cert, sign.Expected.from_environ(certificate))
    finally:
        cert.close()
    return SignedFolder(folder, frozenset(path.relative_to(folder) for path in signed), vendor)


@pytest.fixture(scope="session")
def product_msis(signed_windows: SignedFolder, certificate: dict[str, str], tmp_path_factory: pytest.TempPathFactory,
                 ) -> dict[str, Path]:
    """The signed freeze packed by build_msi at the release's version and at a higher one (the upgrade), each
    MSI then signed: what a release ships, and the next release."""
    need_tool("wixl")
    out = tmp_path_factory.mktemp("product-msis")
    cert = sign.Certificate(certificate)
    msis: dict[str, Path] = {}
    try:
        for name, version in PRODUCT_VERSIONS.items():
            msis[name] = build_msi.build_msi(signed_windows.folder, out / f"StaffPulse-{version}-x64.msi", version)
            sign.sign(msis[name], cert, sign.Expected.from_environ(certificate))
    finally:
        cert.close()
    return msis


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
def tsa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TimestampAuthority]:
    """A real RFC 3161 timestamp authority on a loopback port, with its own throwaway certificate."""
    need_tool("openssl")
    with timestamp_authority(tmp_path_factory.mktemp("tsa")) as authority:
        yield authority


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory, tsa: TimestampAuthority) -> dict[str, str]:
    """The environment installer/sign.py reads: a throwaway certificate, the local TSA, and both trusted."""
    need_tool("openssl")
    pfx, cert = make_certificate(tmp_path_factory.mktemp("cert"), SIGNER)
    return {"STAFFPULSE_SIGN_PFX": str(pfx), "STAFFPULSE_SIGN_PASSWORD": "throwaway",
            "STAFFPULSE_SIGN_TIMESTAMP_URL": tsa.url, "STAFFPULSE_SIGN_SIGNER": SIGNER,
            "STAFFPULSE_SIGN_CA": str(cert), "STAFFPULSE_SIGN_TSA_CA": str(tsa.certificate)}


WINDOWS_MAIN = "int WINAPI WinMain(HINSTANCE a, HINSTANCE b, LPSTR c, int d) { return 0; }\n"
WINDOWS_LIBRARY = "__declspec(dllexport) int staffpulse_payload(void) { return 1; }\n"


@pytest.fixture(scope="session")
def windows_payload(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A frozen folder's shape with real Windows PE files, built by mingw-w64: ``StaffPulse.exe`` (a windowed
    program that exits 0), ``_internal/payload.dll`` and a data file. The MSI's life cycle needs files to place,
    replace and remove, not our app; ``frozen_windows`` (PyInstaller under Wine) is the real one."""
    folder = tmp_path_factory.mktemp("windows-payload") / "StaffPulse"
    (folder / "_internal").mkdir(parents=True)
    gcc = need_tool("x86_64-w64-mingw32-gcc")
    sources = folder.parent / "main.c", folder.parent / "payload.c"
    sources[0].write_text("#include <windows.h>\n" + WINDOWS_MAIN)
    sources[1].write_text(WINDOWS_LIBRARY)
    for command in ([gcc, "-mwindows", "-O2", "-s", "-o", str(folder / "StaffPulse.exe"), str(sources[0])],
                    [gcc, "-shared", "-O2", "-s", "-o", str(folder / "_internal" / "payload.dll"), str(sources[1])]):
        subprocess.run(command, check=True, capture_output=True, timeout=120)
    (folder / "_internal" / "base_library.zip").write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip
    return folder
