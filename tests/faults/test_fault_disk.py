"""The disk holding the outbox fills up while the agent runs, then space returns.

The outbox lives on a small tmpfs mounted for the test (we run as root here and in CI); a file written until
ENOSPC fills it. The agent must keep sampling, say which file it cannot write (log and ``staffpulse status``),
keep the closed minutes in memory, write them when space returns, leave an intact database, and upload every
minute exactly once.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fault_harness import FaultAgent, FaultReport, Syncer, assert_exactly_once, reconcile

from support.servers import ServerProcess
from support.team import Team

FULL_FOR_S = 3.0  # about three of the agent's minutes


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


def test_outbox_disk_full_then_space_returns(server: ServerProcess, team: Team, tmp_path: Path, small_disk: Path,
                                             agents: list[FaultAgent], fault_report: FaultReport) -> None:
    member = team.people[0]
    agent = FaultAgent(tmp_path / "agent", server.url, member, data=small_disk / "data")
    agents.append(agent)
    outbox = agent.data / "outbox.sqlite3"
    agent.start()
    with Syncer(agent):
        time.sleep(2.0)
        filler = fill(small_disk)
        agent.wait_for(lambda: str(outbox) in (agent.status() or {}).get("outbox_error", ""),
                       "status names the outbox it cannot write")
        assert f"cannot write the outbox {outbox}" in agent.log_text()
        time.sleep(FULL_FOR_S)
        assert agent.running, "the agent must keep running on a full disk"
        filler.unlink()
        agent.wait_for(lambda: "outbox_error" not in (agent.status() or {"outbox_error": ""}),
                       "the agent writes again once space returns")
        time.sleep(1.0)
    log = agent.log_text()
    assert f"the outbox {outbox} is writable again" in log
    kept = int(log.split("is writable again: ", 1)[1].split()[0])
    assert kept >= 1, "no minute closed while the disk was full"
    agent.drain()
    with sqlite3.connect(outbox) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    outcome = reconcile(agent.data, server, member)
    assert_exactly_once(outcome, server, member, minimum=5)
    fault_report.add("outbox disk full (tmpfs), then space returns", 1, outcome,
                     f"{kept} minutes kept in memory while full")
