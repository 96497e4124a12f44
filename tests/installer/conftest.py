"""The installer suite freezes the agent once per session with the repo's own spec; everything else packs,
signs or runs that one frozen folder."""

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
