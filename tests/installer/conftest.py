"""The installer suite freezes the agent once per session with the repo's own spec; everything else packs,
signs or runs that one frozen folder, except the MSI's life cycle under Wine, which packs a small Windows payload
(``windows_payload``) so that it runs in seconds."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
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
