"""The disk holding the outbox fills up while the agent runs, then space returns.

The outbox lives on a small tmpfs mounted for the test (we run as root here and in CI); a file written until
ENOSPC fills it. The agent must keep sampling, say which file it cannot write (log and ``staffpulse status``),
keep the closed minutes in memory, write them when space returns, leave an intact database, and upload every
minute exactly once.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fault_harness import FaultAgent, FaultReport, Syncer, assert_exactly_once, reconcile

from support.servers import ServerProcess
from support.team import Team

#: Closed minutes the agent must hold in memory while the disk is full before space returns.
HELD_MINUTES = 2
#: Minutes written in all, for the exactly-once check to prove something.
MINUTES = 5


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], capture_output=True,
                          text=True)
    if done.returncode:
        pytest.fail(f"cannot mount a tmpfs (the fault suite runs as root): {done.stderr}")
    yield mount
    subprocess.run(["umount", "--lazy", str(mount)], check=True)


def fill(disk: Path) -> Path:
    filler = disk / "filler"
    block = b"\0" * 65536
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT)  # unbuffered: nothing left to fail at close
    try:
        while True:
            os.write(descriptor, block)
    except OSError as error:
        assert error.errno == errno.ENOSPC
    finally:
        os.close(descriptor)
    return filler


def minutes_written(outbox: Path) -> int:
    """The minutes in the outbox, read-only (never creating the file), 0 before it exists."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{outbox}?mode=ro", uri=True)) as db:
            return int(db.execute("SELECT count(*) FROM slot").fetchone()[0])
    except sqlite3.OperationalError:  # not created yet, or its schema not written yet
        return 0


def test_outbox_disk_full_then_space_returns(server: ServerProcess, team: Team, tmp_path: Path, small_disk: Path,
                                             agents: list[FaultAgent], fault_report: FaultReport) -> None:
    member = team.people[0]
    agent = FaultAgent(tmp_path / "agent", server.url, member, data=small_disk / "data")
    agents.append(agent)
    outbox = agent.data / "outbox.sqlite3"
    agent.start()
    # A declared break keeps the agent closing minutes whatever the machine's load: with no input in this test, a
    # quarter-second CPU stall (15 s of its 60x scaled time) would read as a sleep and leave it away, closing none.
    assert agent.ask({"command": "break", "on": True}) == {"ok": True}
    with Syncer(agent):
        agent.wait_for(lambda: minutes_written(outbox) >= 1, "a first minute written")
        filler = fill(small_disk)
        agent.wait_for(lambda: str(outbox) in (agent.status() or {}).get("outbox_error", ""),
                       "status names the outbox it cannot write")
        assert f"cannot write the outbox {outbox}" in agent.log_text()
        agent.wait_for(lambda: (agent.status() or {}).get("minutes_in_memory", 0) >= HELD_MINUTES,
                       f"{HELD_MINUTES} minutes closed and kept in memory while the disk is full")
        assert agent.running, "the agent must keep running on a full disk"
        filler.unlink()
        agent.wait_for(lambda: "outbox_error" not in (agent.status() or {"outbox_error": ""}),
                       "the agent writes again once space returns")
        agent.wait_for(lambda: minutes_written(outbox) >= MINUTES, f"{MINUTES} minutes written in all")
    log = agent.log_text()
    assert f"the outbox {outbox} is writable again" in log
    kept = int(log.split("is writable again: ", 1)[1].split()[0])
    assert kept >= HELD_MINUTES, "the minutes closed while the disk was full were not kept"
    agent.drain()
    with sqlite3.connect(outbox) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    outcome = reconcile(agent.data, server, member)
    assert_exactly_once(outcome, server, member, minimum=MINUTES)
    fault_report.add("outbox disk full (tmpfs), then space returns", 1, outcome,
                     f"{kept} minutes kept in memory while full")
