"""The installed, signed product under Wine, end to end, as IT deploys it and a user lives with it: the signed
MSI (``product_msis``: the signed Windows freeze packed by build_msi, then signed) installed by Wine's real msiexec
with SERVERURL (the Linux test server on loopback), ENROLLTOKEN and IDLETHRESHOLD=60, each life-cycle step run and
checked by ``installer.lifecycle_checks --wine`` as the Windows job runs it (docs/installer.md); then

- the installed ``StaffPulse.exe --self-test`` passes on the test display, where Wine's own system tray serves,
  naming the Win32 backends and Qt's windows platform;
- the installed exe started as the Run key starts it at logon (the Run value's command: no arguments, so the tray
  app) puts its icon in Wine's tray, enrolls itself by policy, counts what xdotool types, clicks and scrolls into
  a focused ``notepad`` (Wine sees input only while one of its windows has focus, as a Windows app sees input only
  in its session) through its Win32 hooks, turns idle when GetLastInputInfo says the policy's 60 s passed, and
  ``StaffPulse.exe sync-now`` leaves on the server exactly what was injected;
- a higher-version MSI from the same signed payload, installed without properties as GPO and Intune upgrade,
  keeps the agent enrolled (the same device, no second enrollment) and uploading to its server. The agent
  started after it, as the Run key starts it, finds Qt unable to load (the prefix's ICU stand-in is removed
  first, as on a Windows without the system ICU Qt6Core links against), so it also shows the tray launch's
  fallback: it runs headless, counting and uploading, and logs why (one start for both saves a minute);
- uninstalling keeps the user's data (``%LOCALAPPDATA%\\StaffPulse``) and the device token in Credential Manager.

The steps share one prefix and one server and run in order; ``InstalledProduct`` runs each step once, after the
steps before it, so any one test also runs alone. The idle threshold is the smallest policy allows (60 s), so the
suite waits that long once; every other wait is for a condition.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests

from installer.lifecycle_checks import RUN_KEY
from protocol.defaults import INTERVAL_RANGE_S
from protocol.schema import SLOT_SECONDS
from protocol.version import VERSION
from support.lifecycle import lifecycle_step, passed
from support.msi_tables import msi_table
from support.servers import ServerProcess, sqlite_server
from support.signing import SignedFolder
from support.team import Person, make_team, new_key
from support.wine import WinePrefix, windows_path
from support.wine_desktop import WINE_TRAY, Window, focused_notepad, local_app_data, wait_until, xdotool
from support.xdisplay import named_windows, window_class

TYPED = "hello world 12345"  # 17 key presses: no shift
TYPED_AFTER_UPGRADE = "upgraded 67890"  # 14 more
CLICKS, SCROLL_STEPS = 1, 2
THRESHOLD_S = INTERVAL_RANGE_S[0]
INSTALLED_EXE = r"C:\Program Files\StaffPulse\StaffPulse.exe"
START_TIMEOUT_S = 90.0
WIN32_LINES = ("ok   input backend: low-level hooks WH_KEYBOARD_LL/WH_MOUSE_LL (pynput.keyboard._win32, "
               "pynput.mouse._win32)", "ok   idle backend: GetLastInputInfo (WindowsIdle) answers: idle ",
               "ok   keyring backend: keyring.backends.Windows.WinVaultKeyring", "ok   websocket transport: ")
HEADLESS = re.compile(r"the tray app cannot load Qt \((.*)\); running headless")
T = TypeVar("T")


def member_state(server: ServerProcess, manager: Person) -> str | None:
    """The state the team sees for the one member who is not ``manager``; None before that member exists."""
    team = requests.get(server.url + "/api/v1/team", headers=manager.headers, timeout=10).json()
    others = [member["state"] for member in team["members"] if member["user_id"] != manager.user_id]
    return others[0] if others else None


def device_rows(server: ServerProcess) -> list[tuple[int, str, str]]:
    """(id, platform, agent_version) of every device that enrolled itself (the manager's platform is "linux")."""
    with sqlite3.connect(server.database_url.removeprefix("sqlite:///")) as db:
        return db.execute("SELECT id, platform, agent_version FROM devices WHERE platform LIKE 'win32%'").fetchall()


def uploaded(server: ServerProcess, device_id: int) -> tuple[int, int, int]:
    """(keys, clicks, scroll steps) the server holds for the device."""
    with sqlite3.connect(server.database_url.removeprefix("sqlite:///")) as db:
        row = db.execute("SELECT coalesce(sum(keys), 0), coalesce(sum(clicks), 0), coalesce(sum(scrolls), 0) "
                         "FROM activity_slots WHERE device_id = ?", (device_id,)).fetchone()
    return tuple(row)


def run_key_command(wine: WinePrefix) -> list[str]:
    """The Run value's command line, split as Windows splits it: what Windows starts at every user's logon."""
    done = wine.run(["reg", "query", rf"HKLM\{RUN_KEY}", "/v", "StaffPulse"], timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    [command] = re.findall(r"^\s*StaffPulse\s+REG_SZ\s+(.*?)\s*$", done.stdout, re.MULTILINE)
    quoted = re.fullmatch(r'"([^"]+)"\s*(.*)', command)
    assert quoted is not None, command
    return [quoted[1], *quoted[2].split()]


@dataclass(frozen=True)
class Run:
    """What one run of the agent left: its device on the server, the server's totals for it, and the log."""

    device: tuple[int, str, str]
    totals: tuple[int, int, int]
    log: str
    tray_class: tuple[str, str] | None = None


def step(method: Callable[[InstalledProduct], T]) -> T:
    """A step of the product's life: run once, on first use; a failed step fails every later one at once."""

    @wraps(method)
    def once(self: InstalledProduct) -> Any:
        if method.__name__ not in self.results:
            self.results[method.__name__] = None
            self.results[method.__name__] = (method(self),)
        if self.results[method.__name__] is None:
            pytest.fail(f"the earlier step {method.__name__} failed")
        return self.results[method.__name__][0]

    return property(once)  # type: ignore[return-value]


class InstalledProduct:
    """One Windows user's machine with StaffPulse, from install to uninstall; each step a ``step``."""

    def __init__(self, wine: WinePrefix, msis: dict[str, Path], server: ServerProcess, notepad: Window,
                 logs: Path) -> None:
        self.wine, self.msis, self.server, self.notepad, self.logs = wine, msis, server, notepad, logs
        team = make_team(server, roles=("manager",), time_zone="UTC")
        self.manager = team.people[0]
        self.key = new_key(server, team.name, allow_create=True)
        self.policy = [f"SERVERURL={server.url}", f"ENROLLTOKEN={self.key}", f"IDLETHRESHOLD={THRESHOLD_S}"]
        self.results: dict[str, tuple[Any] | None] = {}

    def check(self, step_name: str, msi: str, version: str, *args: str) -> subprocess.CompletedProcess[str]:
        return lifecycle_step(self.wine, step_name, self.msis[msi], self.logs / f"{step_name}.log",
                              "--version", version, *args)

    def agent_log(self) -> str:
        return "".join(path.read_text(encoding="utf-8") for path in self.data_folder().rglob("agent.log*"))

    def data_folder(self) -> Path:
        return local_app_data(self.wine) / "StaffPulse"

    def state(self) -> str | None:
        return member_state(self.server, self.manager)

    @contextmanager
    def agent(self) -> Iterator[subprocess.Popen[str]]:
        """The installed exe started as the Run key starts it, live on the server; stopped (and seen offline)
        at the end."""
        agent = self.wine.popen(run_key_command(self.wine))
        try:
            wait_until(lambda: self.state() not in (None, "offline"), "the agent's presence on the server",
                       START_TIMEOUT_S, pause=0.5, process=agent)
            yield agent
        finally:
            agent.kill()
            agent.communicate(timeout=30)
        wait_until(lambda: self.state() == "offline", "the stopped agent shown offline", 60, pause=0.5)

    def type_into_notepad(self, text: str, clicks: int = 0, scroll_steps: int = 0) -> None:
        xdotool(self.wine, "windowfocus", "--sync", self.notepad.id, "type", "--delay", "30", text)
        if clicks or scroll_steps:
            xdotool(self.wine, "click", "--repeat", str(clicks), "1", "click", "--repeat", str(scroll_steps), "4")

    def sync_until(self, device_id: int, keys: int) -> tuple[int, int, int]:
        """Keep moving the mouse over notepad, as a person still at work, and run ``StaffPulse.exe sync-now``,
        until the server holds at least ``keys`` keys; its totals then. A minute is closed and sent once the agent
        knows how it ended: by input after it, or by the idle threshold passing (which makes the rest of it idle,
        and the tray app then holds it for the person's answer to "Welcome back": agent.returning)."""
        seen: list[tuple[int, int, int]] = []

        def synced() -> tuple[int, int, int] | None:
            xdotool(self.wine, "mousemove", "--window", self.notepad.id, str(100 + len(seen) % 2 * 20), "100")
            done = self.wine.run([INSTALLED_EXE, "sync-now"], timeout=60)
            assert done.returncode == 0, done.stdout + done.stderr
            seen.append(uploaded(self.server, device_id))
            return seen[-1] if seen[-1][0] >= keys else None

        return wait_until(synced, lambda: f"{keys} keys uploaded (the server holds (keys, clicks, scroll steps) "
                                          f"{seen[-1:]}; the agent logged: {self.agent_log()[-3000:]})",
                          SLOT_SECONDS + 60, pause=1.0)

    @step
    def install(self) -> subprocess.CompletedProcess[str]:
        return self.check("install", "release", VERSION, *self.policy)

    @step
    def self_test(self) -> tuple[int, list[str]]:
        assert passed(self.install)
        report = self.logs / "self-test.txt"
        done = self.wine.run([INSTALLED_EXE, "--self-test", windows_path(report)], timeout=120)
        return done.returncode, report.read_text(encoding="utf-8").splitlines()

    @step
    def first_run(self) -> Run:
        assert passed(self.install)
        assert not named_windows(self.wine.display or "", WINE_TRAY), "Wine's tray is empty before the agent"
        with self.agent() as agent:
            [device] = device_rows(self.server)
            tray = wait_until(lambda: named_windows(self.wine.display or "", WINE_TRAY), "an icon in Wine's tray",
                              process=agent)
            tray_class = window_class(self.wine.display or "", tray[0])
            self.type_into_notepad(TYPED, CLICKS, SCROLL_STEPS)
            wait_until(lambda: self.state() == "active", "the input made the member active", 30, pause=0.5)
            totals = self.sync_until(device[0], len(TYPED))
            wait_until(lambda: self.state() == "idle", f"idle {THRESHOLD_S} s after the last input",
                       THRESHOLD_S + 60, pause=1.0, process=agent)
        return Run(device, totals, self.agent_log(), tray_class)

    @step
    def upgrade(self) -> subprocess.CompletedProcess[str]:
        assert self.first_run
        return self.check("upgrade", "upgrade", self.upgrade_version, "--expect", *self.policy)

    @property
    def upgrade_version(self) -> str:
        return dict(msi_table(self.msis["upgrade"], "Property"))["ProductVersion"]

    @step
    def run_after_upgrade_without_qt(self) -> tuple[str, Run]:
        """The Run-key start after the upgrade, with Qt unable to load: the ICU stand-in goes from this prefix's
        system32 first (a hard link of the cached prefix's file, so only this copy loses it). Why Qt could not
        load, as logged, and the run."""
        assert passed(self.upgrade)
        (self.wine.drive_c / "windows" / "system32" / "icuuc.dll").unlink()
        with self.agent() as agent:
            found = wait_until(lambda: HEADLESS.search(self.agent_log()), "the headless fallback logged", 30,
                               process=agent)
            [device] = device_rows(self.server)
            self.type_into_notepad(TYPED_AFTER_UPGRADE)
            totals = self.sync_until(device[0], len(TYPED) + len(TYPED_AFTER_UPGRADE))
        return found[1], Run(device, totals, self.agent_log())

    @step
    def uninstall(self) -> tuple[subprocess.CompletedProcess[str], set[str]]:
        assert self.run_after_upgrade_without_qt
        before = {path.relative_to(self.data_folder()).as_posix() for path in self.data_folder().rglob("*")}
        return self.check("uninstall", "upgrade", self.upgrade_version), before


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with sqlite_server(tmp_path_factory.mktemp("product-server")) as process:
        yield process


@pytest.fixture(scope="module")
def product(wine: WinePrefix, product_msis: dict[str, Path], server: ServerProcess,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[InstalledProduct]:
    with focused_notepad(wine) as notepad:
        yield InstalledProduct(wine, product_msis, server, notepad, tmp_path_factory.mktemp("product-logs"))


def test_install_with_properties(product: InstalledProduct, signed_windows: SignedFolder) -> None:
    """The checker: exe, Run value, policy, remembered values, shortcut, Programs and Features, the key hidden.
    Here: what Program Files holds is the signed folder, byte for byte (signatures included)."""
    assert passed(product.install)
    installed = product.wine.drive_c / "Program Files" / "StaffPulse"
    files = sorted(path.relative_to(signed_windows.folder) for path in signed_windows.folder.rglob("*")
                   if path.is_file())
    assert sorted(path.relative_to(installed) for path in installed.rglob("*") if path.is_file()) == files
    for name in (*signed_windows.signed, Path("_internal/python313.dll")):
        assert (installed / name).read_bytes() == (signed_windows.folder / name).read_bytes(), name


def test_installed_self_test_passes_with_the_win32_backends_and_qts_windows_platform(
        product: InstalledProduct) -> None:
    status, lines = product.self_test
    for line, expected in zip(lines, WIN32_LINES, strict=False):
        assert line.startswith(expected), lines
    assert any(line.startswith("ok   Qt platform plugin: windows,") and line.endswith("system tray found")
               for line in lines), lines
    assert (status, lines[-1]) == (0, "self-test passed"), lines


def test_run_key_start_is_the_tray_app_enrolled_by_policy_counting_exactly(product: InstalledProduct) -> None:
    run = product.first_run
    _, platform, version = run.device
    assert platform.startswith("win32") and version == VERSION
    assert run.tray_class == ("explorer.exe", "explorer.exe"), "the icon is in Wine's tray"
    assert run.totals == (len(TYPED), CLICKS, SCROLL_STEPS)
    assert run.log.count("enrolled by policy as ") == 1 and product.key not in run.log
    assert "running headless" not in run.log


def test_upgrade_without_properties_keeps_the_agent_enrolled_and_uploading(product: InstalledProduct) -> None:
    assert passed(product.upgrade)
    _, run = product.run_after_upgrade_without_qt
    assert run.device == product.first_run.device, "the same device, not enrolled again"
    assert run.totals == (len(TYPED) + len(TYPED_AFTER_UPGRADE), CLICKS, SCROLL_STEPS)
    assert run.log.count("enrolled by policy as ") == 1


def test_tray_start_without_qt_runs_headless_and_logs_why(product: InstalledProduct) -> None:
    """Started as the Run key starts it (no arguments: the tray app) where Qt cannot load, the agent runs
    headless, counting and uploading (the upgrade test's totals), and its log says why."""
    reason, _ = product.run_after_upgrade_without_qt
    assert "DLL load failed" in reason, reason


def test_uninstall_keeps_the_users_data_and_device_token(product: InstalledProduct) -> None:
    done, before = product.uninstall
    assert passed(done)
    kept = {path.relative_to(product.data_folder()).as_posix() for path in product.data_folder().rglob("*")}
    assert before <= kept and "Logs/agent.log" in before, (before, kept)
    token = product.wine.python(["-c", "import sys; from sync.credentials import CredentialStore; "
                                       "print(CredentialStore().load(sys.argv[1]) is not None)", product.server.url])
    assert (token.returncode, token.stdout.strip()) == (0, "True"), token.stderr[-2000:]
