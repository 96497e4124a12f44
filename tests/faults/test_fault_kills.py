"""kill -9 of the agent, and of the server, at random (seeded) moments while minutes are being uploaded.

An upload is asked for every 0.2 s (``staffpulse sync-now`` through the control channel), and with the agent's
clock 60× fast a minute closes about every second, so the kills land before, during and after requests. At the
end every minute the agent wrote must be on the server exactly once, unchanged.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

from fault_harness import FaultAgent, FaultReport, Syncer, Typist, assert_exactly_once, reconcile

from support.servers import ServerProcess
from support.team import Team

AGENT_KILLS = 20
SERVER_KILLS = 10


def test_agent_killed_20_times_while_uploading(server: ServerProcess, team: Team, tmp_path: Path,
                                               agents: list[FaultAgent], fault_report: FaultReport,
                                               x_display: str) -> None:
    member = team.people[0]
    agent = FaultAgent(tmp_path / "agent", server.url, member, idle_threshold=30, display=x_display)
    agents.append(agent)
    rng = random.Random(8)
    with Typist(x_display), Syncer(agent):
        for _ in range(AGENT_KILLS):
            agent.start()
            time.sleep(rng.uniform(0.2, 1.0))
            agent.kill()
        agent.start()
        time.sleep(1.0)
    agent.drain()
    assert agent.starts == AGENT_KILLS + 1
    outcome = reconcile(agent.data, server, member)
    assert outcome.batches >= AGENT_KILLS // 2, "uploads did not run between the kills"
    assert_exactly_once(outcome, server, member, minimum=AGENT_KILLS // 2)
    fault_report.add("agent kill -9 while uploading", AGENT_KILLS, outcome, f"{outcome.batches} batches")


def test_server_killed_10_times_mid_upload(server: ServerProcess, team: Team, tmp_path: Path,
                                           agents: list[FaultAgent], fault_report: FaultReport,
                                           x_display: str) -> None:
    member = team.people[0]
    agent = FaultAgent(tmp_path / "agent", server.url, member, idle_threshold=30, display=x_display)
    agents.append(agent)
    rng = random.Random(9)
    agent.start()
    with Typist(x_display), Syncer(agent):
        for _ in range(SERVER_KILLS):
            time.sleep(rng.uniform(0.3, 0.9))
            server.stop(kill=True)
            time.sleep(rng.uniform(0.0, 0.5))
            server.start()  # the same port and database
        time.sleep(1.0)
    agent.wait_for(lambda: (agent.status() or {}).get("connection") == "live", "the live socket reconnected")
    agent.drain()
    outcome = reconcile(agent.data, server, member)
    assert_exactly_once(outcome, server, member, minimum=SERVER_KILLS)
    fault_report.add("server kill -9 mid-upload, restarted", SERVER_KILLS, outcome, f"{outcome.batches} batches")
