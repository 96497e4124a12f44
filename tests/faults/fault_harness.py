"""The real agent (``staffpulse --headless``) against a real server, with the knobs the fault tests turn, and
the one check every fault test ends with: every closed minute the agent wrote arrived exactly once.

Time: the agent runs ``SCALE`` times faster than real time (hidden ``--time-scale``), so a test covers hours
of minutes in a minute. Its wall clock goes through libfaketime, preloaded into the agent process only, with
an offset read from a file at every call: the test starts the agent's day two days in the past (the server,
on real time, refuses minutes that have not begun yet) and can step the agent's clock forward or back while
it runs, exactly as NTP or a person changing the clock would. The monotonic clock is left alone.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from agent.clock import ScaledClock
from protocol.schema import Slot
from support.processes import terminate
from support.servers import ServerProcess
from support.team import Person
from support.xdisplay import need_tool
from sync import control
from sync.settings import AgentSettings, save

ROOT = Path(__file__).resolve().parents[2]
SCALE = 60
#: The thread-safe build: the agent reads the clock from several threads, and the plain one, re-reading the
#: offset file, now and then returned the real time to one of them (a 53-year step in the agent's log).
FAKETIME_LIB = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1")
START_TIMEOUT_S = 30.0
FIELDS = ("tracked_s", "active_s", "idle_s", "break_s", "input_s", "keys", "clicks", "scrolls", "mouse_px")


class AgentClock:
    """The agent's wall clock: a libfaketime offset file the agent re-reads at every clock call."""

    def __init__(self, path: Path, start: datetime) -> None:
        if not FAKETIME_LIB.exists():
            pytest.fail(f"{FAKETIME_LIB} is missing: scripts/test installs it (apt-get install libfaketime)")
        # The agent's scaled clock reads base + SCALE * real_time; pick the real-time offset that makes it
        # read ``start`` now.
        base = ScaledClock(SCALE).now().timestamp() - SCALE * time.time()
        self.offset = (start.timestamp() - base) / SCALE - time.time()
        self.path = path
        self._write()

    def jump(self, agent_seconds: float) -> None:
        """Step the agent's wall clock by ``agent_seconds`` of its own (scaled) time; negative goes back."""
        self.offset += agent_seconds / SCALE
        self._write()

    def _write(self) -> None:
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(f"{self.offset:+.6f}\n")
        temporary.replace(self.path)  # the agent never reads a half-written offset

    def environment(self) -> dict[str, str]:
        return {"LD_PRELOAD": str(FAKETIME_LIB), "FAKETIME_TIMESTAMP_FILE": str(self.path),
                "FAKETIME_NO_CACHE": "1", "FAKETIME_DONT_FAKE_MONOTONIC": "1"}


class FaultAgent:
    """``staffpulse --headless`` for one enrolled device: started, killed and restarted on the same data."""

    def __init__(self, base: Path, server_url: str, person: Person, *, idle_threshold: int = 120,
                 display: str | None = None, data: Path | None = None) -> None:
        """``data`` puts the outbox elsewhere than ``base`` (on a small disk that can fill up)."""
        self.base, self.person = base, person
        self.data, self.logs = data or base / "data", base / "logs"
        self.data.mkdir(parents=True, exist_ok=True)
        base.mkdir(parents=True, exist_ok=True)
        save(self.data, AgentSettings(server_url=server_url))
        # The stand-in keyring (tests/support/keyrings.py) holding the token the device enrolled with over REST.
        keyring_file = base / "keyring.json"
        keyring_file.write_text(json.dumps({f"StaffPulse\n{server_url.rstrip('/')}": person.token}))
        self.clock = AgentClock(base / "faketime.txt", datetime.now(UTC) - timedelta(days=2))
        env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "LD_PRELOAD")}
        if display is not None:
            env["DISPLAY"] = display
        self.env = env | self.clock.environment() | {
            "STAFFPULSE_DATA_DIR": str(self.data), "STAFFPULSE_LOG_DIR": str(self.logs),
            "PYTHON_KEYRING_BACKEND": "support.keyrings.FileKeyring", "STAFFPULSE_TEST_KEYRING": str(keyring_file),
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
        self.args = ["--headless", "--time-scale", str(SCALE), "--idle-threshold", str(idle_threshold)]
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        with (self.base / "stderr.txt").open("ab") as stderr:
            self.process = subprocess.Popen([sys.executable, "-m", "staffpulse", *self.args], cwd=ROOT, env=self.env,
                                            stdout=stderr, stderr=stderr)
        self.starts += 1
        deadline = time.monotonic() + START_TIMEOUT_S
        while self.status() is None:
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"agent did not start; stderr:\n{(self.base / 'stderr.txt').read_text()}")
            time.sleep(0.05)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(15)

    def stop(self) -> None:
        """SIGTERM: the agent writes the open minute and tries one last upload, then exits 0."""
        assert self.process is not None
        assert terminate(self.process) == 0, (self.base / "stderr.txt").read_text()

    def signal(self, signum: int) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    def ask(self, request: dict[str, Any], timeout: float = 60.0) -> dict[str, Any] | None:
        """Through the control channel, as ``staffpulse status``/``sync-now`` do; None when it is not running."""
        try:
            return control.send(self.data, request, timeout=timeout)
        except (OSError, EOFError):  # killed while answering
            return None

    def status(self) -> dict[str, Any] | None:
        return self.ask({"command": "status"}, timeout=10)

    def sync_now(self) -> dict[str, Any] | None:
        return self.ask({"command": "sync-now"})

    def log_text(self) -> str:
        return "".join(path.read_text(encoding="utf-8", errors="replace")
                       for path in sorted(self.logs.glob("agent.log*"), reverse=True))

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                pytest.fail(f"{what} within {timeout} s; status {self.status()}; log tail:\n{self.log_text()[-3000:]}")
            time.sleep(0.1)

    def drain(self) -> None:
        """Stop cleanly, then upload what is left with ``staffpulse sync-now`` run on its own (no agent)."""
        if self.running:
            self.stop()
        env = {k: v for k, v in self.env.items() if not k.startswith(("LD_PRELOAD", "FAKETIME"))}
        done = subprocess.run([sys.executable, "-m", "staffpulse", "sync-now"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr


def press_keys(display: str, count: int) -> int:
    """Real key presses on ``display`` (xdotool); returns how many, for comparing with what arrived."""
    subprocess.run([need_tool("xdotool"), "key", "--delay", "20", *["x"] * count], env=os.environ | {
        "DISPLAY": display}, check=True, timeout=30)
    return count


class Typist:
    """One xdotool pressing a key every 0.3 s on ``display`` while a test runs. A stall of the loaded test
    machine longer than 15 agent seconds (0.25 real ones) reads as a sleep, and after a sleep the person is away
    until input: without input nothing more would be tracked."""

    def __init__(self, display: str) -> None:
        self._command = [need_tool("xdotool"), "key", "--repeat", "2000", "--delay", "300", "x"]
        self._env = os.environ | {"DISPLAY": display}
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Typist:
        self._process = subprocess.Popen(self._command, env=self._env)
        return self

    def __exit__(self, *_: object) -> None:
        assert self._process is not None
        self._process.kill()
        self._process.wait(10)


class Syncer:
    """Asks the running agent to upload again and again (``staffpulse sync-now``), so faults hit uploads."""

    def __init__(self, agent: FaultAgent, pause: float = 0.2) -> None:
        self.agent, self.pause = agent, pause
        self.answers: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.pause):
            answer = self.agent.sync_now() if self.agent.running else None
            if answer is not None:
                self.answers.append(answer)

    def __enter__(self) -> Syncer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(90)


@dataclasses.dataclass
class Outcome:
    """What the agent wrote locally against what the server stored for its device."""

    local: dict[datetime, Slot]
    server: dict[datetime, dict[str, int]]
    accepted: int  # sum of ``accepted`` over every batch the server stored for the device
    batches: int
    pending: int  # local minutes not yet acknowledged
    set_aside: int  # local minutes the server refused for good
    refusals: set[str]  # the server's reasons for them

    @property
    def lost(self) -> int:
        return len(set(self.local) - set(self.server)) + self.set_aside

    @property
    def duplicated(self) -> int:
        """Minutes counted more than once, or stored although the agent never wrote them."""
        return (self.accepted - len(self.server)) + len(set(self.server) - set(self.local))


def reconcile(data: Path, server: ServerProcess, person: Person) -> Outcome:
    with sqlite3.connect(data / "outbox.sqlite3") as db:
        rows = db.execute("SELECT body, sent, refused FROM slot").fetchall()
    local = {slot.start: slot for slot in (Slot.model_validate_json(body) for body, _, _ in rows)}
    database = server.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(database) as db:
        stored = db.execute(f"SELECT start, {', '.join(FIELDS)} FROM activity_slots WHERE device_id = ?",
                            (person.device_id,)).fetchall()
        accepted, batches = db.execute("SELECT coalesce(sum(accepted), 0), count(*) FROM batches WHERE device_id = ?",
                                       (person.device_id,)).fetchone()
    server_slots = {datetime.fromisoformat(start).replace(tzinfo=UTC): dict(zip(FIELDS, values, strict=True))
                    for start, *values in stored}
    return Outcome(local=local, server=server_slots, accepted=accepted, batches=batches,
                   pending=sum(1 for _, sent, refused in rows if not sent and refused is None),
                   set_aside=sum(1 for _, _, refused in rows if refused is not None),
                   refusals={refused for _, _, refused in rows if refused is not None})


def assert_exactly_once(outcome: Outcome, server: ServerProcess, person: Person, *, minimum: int) -> None:
    """Every closed minute arrived once, unchanged, and the server's day totals (read through the API, as the
    person sees them) equal the sums of what the agent wrote."""
    assert len(outcome.local) >= minimum, f"only {len(outcome.local)} minutes written; the fault test proves little"
    assert (outcome.pending, outcome.set_aside, outcome.refusals) == (0, 0, set()), "minutes left behind"
    lost, extra = sorted(set(outcome.local) - set(outcome.server)), sorted(set(outcome.server) - set(outcome.local))
    assert not lost and not extra, f"lost {lost}, extra {extra}"
    for start, slot in outcome.local.items():
        assert outcome.server[start] == {field: getattr(slot, field) for field in FIELDS}, start
    assert outcome.accepted == len(outcome.server), "a minute was accepted twice"
    days: dict[date, list[Slot]] = {}
    for slot in outcome.local.values():
        days.setdefault(slot.start.date(), []).append(slot)  # the person's time zone is UTC
    for day, slots in days.items():
        answer = requests.get(f"{server.url}/api/v1/me/days/{day.isoformat()}", headers=person.headers, timeout=10)
        assert answer.status_code == 200, answer.text
        totals = answer.json()["totals"]
        for field in ("tracked_s", "active_s", "idle_s", "keys", "clicks"):
            assert totals[field] == sum(getattr(slot, field) for slot in slots), (day, field)


@dataclasses.dataclass
class FaultRecord:
    fault: str
    runs: int  # how many times the fault was injected
    minutes: int  # closed minutes the agent wrote
    lost: int
    duplicated: int
    note: str = ""


class FaultReport:
    """Collects each fault test's figures; printed at the end (``-s``) and written to ``STAFFPULSE_FAULT_REPORT``."""

    def __init__(self) -> None:
        self.records: list[FaultRecord] = []

    def add(self, fault: str, runs: int, outcome: Outcome, note: str = "") -> None:
        self.records.append(FaultRecord(fault, runs, len(outcome.local), outcome.lost, outcome.duplicated, note))

    def render(self) -> str:
        lines = ["fault | runs | minutes | lost | duplicated | note", "---|---|---|---|---|---"]
        lines += [f"{r.fault} | {r.runs} | {r.minutes} | {r.lost} | {r.duplicated} | {r.note}" for r in self.records]
        return "\n".join(lines)

    def write(self, path: Path) -> None:
        path.write_text(json.dumps([dataclasses.asdict(r) for r in self.records], indent=2))
