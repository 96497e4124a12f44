"""How much memory the agent holds once it has settled: headless, and the tray app with its window open. Prints
RSS, PSS and USS for each against its goal; not a test (tests/sync/test_agent_memory.py keeps a ceiling).

Each agent runs as a person does on a Linux desktop: enrolled with ``staffpulse enroll`` against a real
``staffpulse-server serve`` (SQLite, a fresh team), its token in a real Secret Service (gnome-keyring on a
private D-Bus session, so keyring loads the backend a desktop uses), the window under Xvfb with the trayer tray
host (the headless agent on Xvfb as well, counting input). Steady state is: the live socket connected, one
upload done (the outbox is pre-filled with a few closed minutes, so the first upload sends them), then
``--settle`` seconds in which a teammate changes state every second (live events arriving, presence pushed).
The window is opened as people open it: a second ``staffpulse``.

    .venv/bin/python -m bench.memory                  # both, 20 s settle
    .venv/bin/python -m bench.memory --only headless --settle 60

RSS counts every page the process has in memory, shared libraries included (what ``staffpulse status``, ps and
the issue's goals quote); PSS divides shared pages among the processes sharing them; USS is the process's own.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the tests' server and team helpers (support.*), as the tests load them

from sqlalchemy import select  # noqa: E402 - after the path above

from agent.outbox import Outbox  # noqa: E402
from protocol.schema import Slot  # noqa: E402
from server.migrate import run_in_session  # noqa: E402
from server.models import Device  # noqa: E402
from support.processes import terminate  # noqa: E402
from support.servers import ServerProcess, sqlite_server  # noqa: E402
from support.team import Team, backdate_enrollment, issue_code, make_team, put_presence  # noqa: E402
from support.xdisplay import start_tray_host, start_xvfb  # noqa: E402

#: The issue's goals, RSS in MiB.
GOALS_MB = {"headless": 45.0, "window": 100.0}
PREFILLED_MINUTES = 5
STEADY_TIMEOUT_S = 90.0


@dataclasses.dataclass(frozen=True)
class Footprint:
    rss_mb: float
    pss_mb: float
    uss_mb: float  # Private_Clean + Private_Dirty

    @classmethod
    def of(cls, pid: int) -> Footprint:
        """From ``/proc/<pid>/smaps_rollup`` (kB lines), one read."""
        fields = {}
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
            name, value = line.split(":", 1)
            fields[name] = int(value.split()[0]) / 1024
        return cls(fields["Rss"], fields["Pss"], fields["Private_Clean"] + fields["Private_Dirty"])


@contextlib.contextmanager
def secret_service(base: Path) -> Iterator[dict[str, str]]:
    """A private D-Bus session bus with gnome-keyring's Secret Service on it, unlocked: the environment a
    desktop session gives the agent."""
    bus = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--print-address=1"], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True)
    assert bus.stdout is not None
    env = {"DBUS_SESSION_BUS_ADDRESS": bus.stdout.readline().strip(), "XDG_RUNTIME_DIR": str(base)}
    keyring = subprocess.Popen(["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
                               env={**os.environ, **env, "HOME": str(base)}, stdin=subprocess.PIPE,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
    assert keyring.stdin is not None
    keyring.stdin.write("bench-password")
    keyring.stdin.close()
    try:
        wait_for_secret_service(env)
        yield env
    finally:
        for process in (keyring, bus):
            terminate(process)
        bus.stdout.close()


def wait_for_secret_service(env: dict[str, str], timeout: float = 30.0) -> None:
    """Until gnome-keyring owns the Secret Service's bus name: a client asking sooner is told there is none."""
    deadline = time.monotonic() + timeout
    ask = ["dbus-send", "--session", "--print-reply", "--dest=org.freedesktop.DBus", "/org/freedesktop/DBus",
           "org.freedesktop.DBus.NameHasOwner", "string:org.freedesktop.secrets"]
    while "boolean true" not in subprocess.run(ask, env={**os.environ, **env}, capture_output=True, text=True).stdout:
        if time.monotonic() > deadline:
            raise RuntimeError("gnome-keyring's Secret Service did not appear on the session bus")
        time.sleep(0.05)


def agent_env(base: Path, session: dict[str, str], display: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "PYTHON_KEYRING_BACKEND",
                                                           "PYTHONPATH", "QT_QPA_PLATFORM")}
    env |= session | {"HOME": str(base), "STAFFPULSE_DATA_DIR": str(base / "data"),
                      "STAFFPULSE_LOG_DIR": str(base / "logs")}
    return env | {"DISPLAY": display}


def staffpulse(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "staffpulse", *args], env=env, capture_output=True, text=True,
                          timeout=120, cwd=ROOT)


def status(env: dict[str, str]) -> dict[str, Any]:
    done = staffpulse(env, "status", "--json")
    return dict(json.loads(done.stdout)) if done.returncode == 0 else {}


def enrolled(server: ServerProcess, login: str, env: dict[str, str]) -> None:
    """``staffpulse enroll`` with a fresh code, the device dated back (the server refuses minutes from before a
    device's enrollment) and a few closed minutes in the outbox for the first upload to send."""
    done = staffpulse(env, "enroll", "--server", server.url, "--code", issue_code(server, login))
    if done.returncode != 0:
        raise SystemExit(f"staffpulse enroll failed: {done.stderr}")

    async def every_device(session: Any, _now: datetime) -> list[int]:
        return list((await session.execute(select(Device.id))).scalars())

    backdate_enrollment(server, asyncio_run(server, every_device), announced=True)
    last = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=30)
    outbox = Outbox(Path(env["STAFFPULSE_DATA_DIR"]))
    outbox.commit([Slot(start=last - timedelta(minutes=i), tracked_s=60, active_s=60, idle_s=0, break_s=0,
                        input_s=30, keys=20, clicks=3, scrolls=1, mouse_px=400) for i in range(PREFILLED_MINUTES)],
                  checkpoint="{}")
    outbox.close()


def asyncio_run(server: ServerProcess, work: Any) -> Any:
    import asyncio

    return asyncio.run(run_in_session(server.database_url, work))


def wait_steady(process: subprocess.Popen[str], env: dict[str, str]) -> dict[str, Any]:
    """Until the agent is live and its first upload sent the pre-filled minutes."""
    deadline = time.monotonic() + STEADY_TIMEOUT_S
    while True:
        answer = status(env)
        if answer.get("connection") == "live" and answer.get("last_sync") and answer.get("pending", 99) <= 1:
            return answer
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the agent did not settle (exit {process.poll()}): {answer}")
        time.sleep(0.5)


def settle(server: ServerProcess, team: Team, seconds: float) -> None:
    """A teammate changes state every second: live events reach the agent the whole time."""
    mate = team.by_role("member")[0]
    start = time.monotonic()
    seq = int(time.time())
    while time.monotonic() - start < seconds:
        seq += 1
        put_presence(server, mate, "break" if seq % 2 else "active", seq).raise_for_status()
        time.sleep(1.0)


def measure(kind: str, server: ServerProcess, team: Team, base: Path, settle_s: float,
            imports: Path | None = None) -> Footprint:
    base.mkdir()
    xvfb, display = start_xvfb()  # headless too: input is counted, as on a desktop
    tray = start_tray_host(display) if kind == "window" else None
    try:
        with secret_service(base) as session:
            env = agent_env(base, session, display)
            login = team.by_role("manager" if kind == "window" else "member")[-1].login
            enrolled(server, login, env)
            trace = ["-X", "importtime"] if imports else []
            with (imports / f"{kind}.txt").open("w") if imports else contextlib.nullcontext() as log:
                process = subprocess.Popen([sys.executable, *trace, "-m", "staffpulse",
                                            *(["--headless"] if kind == "headless" else [])], env=env, cwd=ROOT,
                                           stdout=subprocess.DEVNULL, stderr=log or subprocess.DEVNULL, text=True)
            try:
                wait_steady(process, env)
                if kind == "window":
                    shown = staffpulse(env)  # a second launch: the running app shows its window
                    if "window is shown" not in shown.stdout:
                        raise SystemExit(f"the window did not open: {shown.stdout}{shown.stderr}")
                settle(server, team, settle_s)
                return Footprint.of(process.pid)
            finally:
                terminate(process)
    finally:
        for helper in (tray, xvfb):
            if helper is not None:
                terminate(helper)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__.split("\n\n")[0])
    parser.add_argument("--settle", type=float, default=20.0, help="seconds of live traffic before reading")
    parser.add_argument("--only", choices=sorted(GOALS_MB), help="measure one of them")
    parser.add_argument("--imports", type=Path, metavar="DIR", help="run the agents with -X importtime and write "
                        "what each imported, start and steady state, to DIR/<agent>.txt")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="staffpulse-memory-") as tmp, sqlite_server(Path(tmp)) as server:
        team = make_team(server, ("manager", "member", "member"))
        print(f"{'agent':<10} {'RSS MiB':>8} {'goal':>6} {'PSS MiB':>8} {'USS MiB':>8}")
        for kind in [args.only] if args.only else list(GOALS_MB):
            found = measure(kind, server, team, Path(tmp) / kind, args.settle, args.imports)
            verdict = "ok" if found.rss_mb <= GOALS_MB[kind] else "OVER"
            print(f"{kind:<10} {found.rss_mb:8.1f} {GOALS_MB[kind]:6.0f} {found.pss_mb:8.1f} {found.uss_mb:8.1f}"
                  f"  {verdict}", flush=True)


if __name__ == "__main__":
    main()
