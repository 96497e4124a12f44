"""The frozen ``StaffPulse.exe``, run under Wine as the MSI leaves it, end to end against the real Linux server on
loopback: it enrolls itself from the HKLM policy values the MSI writes (ServerUrl, EnrollToken, IdleThreshold),
counts what xdotool types and clicks into a focused Wine window (``notepad``: Wine sees input only while one of
its windows has focus, as a Windows app sees input only in the session) through its Win32 hooks, turns idle when
GetLastInputInfo says the policy's threshold passed, and ``StaffPulse.exe sync-now`` leaves on the server exactly
what was injected.

Qt cannot load under Wine 8 until the prefix has a system ICU (``qt_blocked_under_wine``). While it cannot, the exe
is started with no arguments, as the Run key starts it, and must run headless and say why in its log; once Qt
loads it is started ``--headless`` (the tray's counting is the same sampler; the tray under Wine is tested on its
own). The idle threshold is the smallest policy allows (60 s), so the test waits that long once; every wait is
for a condition the server shows. The deployment key from policy must not reach the agent's log.
"""

from __future__ import annotations

import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from agent.policy import ENROLL_TOKEN, IDLE_THRESHOLD, SERVER_URL
from protocol.defaults import INTERVAL_RANGE_S
from protocol.version import VERSION
from support.servers import ServerProcess, sqlite_server
from support.team import Person, make_team, new_key
from support.wine import WinePrefix, windows_path
from support.xdisplay import need_tool

TYPED = "hello world 12345"  # 17 key presses: no shift, no repeats
CLICKS, SCROLL_STEPS = 1, 2
POLICY_KEY = r"HKLM\Software\Policies\StaffPulse"
START_TIMEOUT_S = 90.0


def eventually(condition: Callable[[], Any], timeout: float, what: str, pause: float = 0.5) -> Any:
    """Poll ``condition`` until it returns something truthy (returned), or fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert time.monotonic() < deadline, f"{what}: not within {timeout:g} s"
        time.sleep(pause)
    return found


def write_policy(wine: WinePrefix, values: dict[str, tuple[str, str]]) -> None:
    """``reg add`` each value under HKLM's policy key, as the MSI's Registry table writes them."""
    for name, (kind, data) in values.items():
        done = wine.run(["reg", "add", POLICY_KEY, "/v", name, "/t", kind, "/d", data, "/f"], timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr


def member_state(server: ServerProcess, manager: Person) -> str | None:
    """The state the team sees for the one member who is not ``manager``; None before that member exists."""
    team = requests.get(server.url + "/api/v1/team", headers=manager.headers, timeout=10).json()
    others = [member["state"] for member in team["members"] if member["user_id"] != manager.user_id]
    return others[0] if others else None


def device_rows(server: ServerProcess) -> list[tuple[int, str, str]]:
    """(id, platform, agent_version) of every device that enrolled itself (the manager's platform is "linux")."""
    with sqlite3.connect(server.database_url.removeprefix("sqlite:///")) as db:
        return db.execute("SELECT id, platform, agent_version FROM devices WHERE platform LIKE 'win32%'").fetchall()


def uploaded(server: ServerProcess, device_id: int) -> tuple[int, int, int, int]:
    """(minutes, keys, clicks, scroll steps) the server holds for the device."""
    with sqlite3.connect(server.database_url.removeprefix("sqlite:///")) as db:
        row = db.execute("SELECT count(*), coalesce(sum(keys), 0), coalesce(sum(clicks), 0), "
                         "coalesce(sum(scrolls), 0) FROM activity_slots WHERE device_id = ?", (device_id,)).fetchone()
    return tuple(row)


def focused_notepad(wine: WinePrefix, display: str) -> tuple[subprocess.Popen[str], str]:
    """Wine's notepad, its window focused and the pointer over it, so typing and clicking reach Wine."""
    notepad = wine.popen(["notepad"])
    xdotool, env = need_tool("xdotool"), {"DISPLAY": display}
    window = subprocess.run([xdotool, "search", "--sync", "--onlyvisible", "--name", "Notepad"], env=env,
                            capture_output=True, text=True, check=True, timeout=60).stdout.split()[0]
    subprocess.run([xdotool, "windowfocus", "--sync", window, "mousemove", "--window", window, "120", "120"],
                   env=env, check=True, timeout=30)
    return notepad, window


def test_policy_enrolled_exe_counts_goes_idle_and_uploads_exactly(frozen_windows: Path, wine: WinePrefix,
                                                                  x_display: str, tmp_path: Path,
                                                                  qt_blocked_under_wine: str | None) -> None:
    exe = windows_path(frozen_windows / "StaffPulse.exe")
    threshold = INTERVAL_RANGE_S[0]
    with sqlite_server(tmp_path) as server:
        team = make_team(server, roles=("manager",), time_zone="UTC")
        manager = team.people[0]
        key = new_key(server, team.name, allow_create=True)
        write_policy(wine, {SERVER_URL: ("REG_SZ", server.url), ENROLL_TOKEN: ("REG_SZ", key),
                            IDLE_THRESHOLD: ("REG_DWORD", str(threshold))})
        notepad, window = focused_notepad(wine, x_display)
        agent = wine.popen([exe] if qt_blocked_under_wine else [exe, "--headless"])
        try:
            [(device_id, platform, version)] = eventually(lambda: device_rows(server), START_TIMEOUT_S,
                                                          "the exe enrolled by policy")
            assert platform.startswith("win32") and version == VERSION
            # Live and reporting: its sampler (and the hooks) started before it connected.
            eventually(lambda: member_state(server, manager) not in (None, "offline"), START_TIMEOUT_S,
                       "the agent's presence reached the server")
            xdotool, env = need_tool("xdotool"), {"DISPLAY": x_display}
            subprocess.run([xdotool, "windowfocus", "--sync", window, "type", "--delay", "30", TYPED], env=env,
                           check=True, timeout=60)
            subprocess.run([xdotool, "click", "1", "click", "--repeat", str(SCROLL_STEPS), "4"], env=env,
                           check=True, timeout=30)
            eventually(lambda: member_state(server, manager) == "active", 30, "the input made the member active")
            eventually(lambda: member_state(server, manager) == "idle", threshold + 60,
                       f"idle {threshold} s after the last input (GetLastInputInfo)", pause=1.0)

            def synced() -> tuple[int, int, int, int] | None:
                done = wine.run([exe, "sync-now"], timeout=60)
                assert done.returncode == 0, done.stdout + done.stderr
                counts = uploaded(server, device_id)
                return counts if counts[1] >= len(TYPED) else None

            minutes, keys, clicks, scrolls = eventually(synced, 60, "the typed minutes uploaded")
        finally:
            for process in (agent, notepad):  # the wine fixture's teardown ends the prefix's wineserver
                process.kill()
                process.communicate(timeout=30)
        assert (keys, clicks, scrolls) == (len(TYPED), CLICKS, SCROLL_STEPS), f"over {minutes} minute(s)"
    log = "".join(path.read_text(encoding="utf-8") for path in (wine.drive_c / "users").rglob("agent.log*"))
    assert "enrolled by policy as " in log and key not in log
    if qt_blocked_under_wine:
        assert "the tray app cannot load Qt (" in log and "); running headless" in log, log[-3000:]
