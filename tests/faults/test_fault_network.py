"""The network between agent and server fails (``TcpFaultProxy``): stalled, slowed, refused and reset, while
minutes are uploaded and while live traffic flows (the manager's presence changes reach the agent's socket,
the agent's break reaches the manager). Afterwards the live socket is back, the team sees the person's real
state, and every minute arrived exactly once.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path

import requests
from fault_harness import FaultAgent, FaultReport, Syncer, assert_exactly_once, reconcile
from tcp_proxy import TcpFaultProxy

from support.servers import ServerProcess
from support.team import LiveClient, Team, make_team, put_presence

#: Each fault once with the socket up, then the two that cut it again; recovery is awaited after each.
FAULTS = ("stall", "delay", "drop", "reset", "drop", "reset")


def sockets(server: ServerProcess) -> int:
    return int(requests.get(server.url + "/healthz", timeout=10).json()["sockets"])


def member_state(server: ServerProcess, team: Team, user_id: int) -> str:
    view = requests.get(server.url + "/api/v1/team", headers=team.people[1].headers, timeout=10).json()
    (state,) = [m["state"] for m in view["members"] if m["user_id"] == user_id]
    return str(state)


def test_network_cut_during_uploads_and_socket_traffic(start_server: Callable[..., ServerProcess], tmp_path: Path,
                                                       agents: list[FaultAgent], fault_report: FaultReport) -> None:
    # A connection that dies without a packet reaching the agent (a stall, some resets) is noticed at the next
    # missed Engine.IO ping: 2 + 2 s here instead of the default 20 + 20 s, so the test waits seconds.
    server = start_server("--ping-interval", "2", "--ping-timeout", "2")
    team = make_team(server, roles=("member", "manager"), time_zone="UTC")
    member, manager = team.people
    proxy = TcpFaultProxy(server.port)
    agent = FaultAgent(tmp_path / "agent", proxy.url, member)
    agents.append(agent)
    watcher = LiveClient(server, manager.token).connect()
    rng = random.Random(10)
    try:
        agent.start()
        agent.wait_for(lambda: (agent.status() or {}).get("connection") == "live", "the live socket came up")
        with Syncer(agent):
            for round_, fault in enumerate(FAULTS):
                if fault == "stall":
                    proxy.set(proxy.STALL)
                elif fault == "delay":
                    proxy.set(proxy.DELAY, delay_s=0.3)
                elif fault == "drop":
                    proxy.set(proxy.DROP)
                    proxy.reset_all()
                else:
                    proxy.reset_all()
                # Live traffic in both directions while the fault lasts.
                put_presence(server, manager, "break" if round_ % 2 else "active", seq=round_ + 1)
                agent.ask({"command": "break", "on": round_ % 2 == 0}, timeout=10)
                time.sleep(rng.uniform(1.0, 2.0))
                proxy.set(proxy.PASS)
                # The server's count, not only the agent's word: a socket that died unnoticed still says "live".
                agent.wait_for(lambda: sockets(server) == 2 and (agent.status() or {}).get("connection") == "live",
                               f"the live socket recovered from {fault}", timeout=60)
        assert agent.ask({"command": "break", "on": True}, timeout=10) == {"ok": True}
        watcher.wait_for("presence", lambda d: d["user_id"] == member.user_id and d["state"] == "break", timeout=10)
        # Past the test server's offline grace (1 s) only a live socket keeps her present. A connection attempt
        # that a stall held back may still reach the server and replace the socket once: allow one reconnect.
        settled = time.monotonic() + 2.5
        agent.wait_for(lambda: time.monotonic() > settled and (agent.status() or {}).get("connection") == "live"
                       and member_state(server, team, member.user_id) == "break",
                       "the team sees her break, over a live socket", timeout=30)
        assert (agent.status() or {}).get("state") == "break"
        assert agent.log_text().count("live connection live") >= 3, "the socket was never cut"
        assert proxy.reset_count > 0 and proxy.refused > 0
        agent.drain()
    finally:
        watcher.close()
        proxy.close()
    outcome = reconcile(agent.data, server, member)
    assert_exactly_once(outcome, server, member, minimum=len(FAULTS))
    fault_report.add("network stall/delay/drop/reset (uploads + live socket)", len(FAULTS), outcome,
                     f"{proxy.reset_count} connections reset, {proxy.refused} refused")
