"""The installer suite freezes the agent once per session with the repo's own spec, on Linux (``frozen``) and on
Windows under Wine (``frozen_windows``); everything else packs, signs or runs those frozen folders."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from support.wine import WineError, WinePrefix, windows_path
from support.xdisplay import need_tool

ROOT = Path(__file__).resolve().parents[2]
FREEZE_TIMEOUT_S = 240
WINE_FREEZE_TIMEOUT_S = 480  # 2-4 min on this 2-core machine with both cores busy


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
def qt_blocked_under_wine(freezing_prefix: WinePrefix) -> str | None:
    """Why PySide6's widgets cannot load in this session's Wine prefixes (all copies of one base prefix), asked
    of the Windows Python, not of the exe under test; None when they load. Wine 8 lacks the system ICU
    (icuuc.dll) Qt6Core links against, so without a shim in the prefix they cannot."""
    done = freezing_prefix.python(["-c", "import PySide6.QtWidgets"])
    return None if done.returncode == 0 else (done.stderr.strip().splitlines() or ["no output"])[-1]


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
