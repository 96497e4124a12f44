"""The server's database is locked: another process holds ``BEGIN EXCLUSIVE`` on the SQLite file for seconds
at a time (a backup tool, an admin's sqlite3 shell) while the agent uploads.

The server waits ``--db-busy-timeout`` (1 s here, 30 s by default) for the lock, then answers 503
``unavailable`` with ``Retry-After``, never 500; the agent retries the same batch, and every minute arrives once.
The answers are observed at an HTTP proxy between them (``support.proxy.FaultProxy`` passing everything).
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from fault_harness import FaultAgent, FaultReport, Syncer, assert_exactly_once, reconcile

from support.proxy import FaultProxy
from support.servers import ServerProcess
from support.team import make_team

LOCKS = 3


def activity_answers(proxy: FaultProxy) -> Counter[int]:
    return Counter(status for _, path, status in list(proxy.seen) if path == "/api/v1/activity")


def another_answer(proxy: FaultProxy, status: int) -> Callable[[], bool]:
    """True once the proxy has seen one more upload answered ``status`` than now."""
    before = activity_answers(proxy)[status]
    return lambda: activity_answers(proxy)[status] > before


def test_database_locked_answers_503_and_nothing_is_lost(start_server: Callable[..., ServerProcess], tmp_path: Path,
                                                        agents: list[FaultAgent], fault_report: FaultReport) -> None:
    server = start_server("--db-busy-timeout", "1")
    member = make_team(server, roles=("member",), time_zone="UTC").people[0]
    proxy = FaultProxy(server.url).start()
    agent = FaultAgent(tmp_path / "agent", proxy.url, member)
    agents.append(agent)
    rng = random.Random(11)
    locker = sqlite3.connect(server.database_url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        agent.start()
        with Syncer(agent, pause=0.1):
            for _ in range(LOCKS):
                time.sleep(rng.uniform(0.5, 1.5))
                refused = another_answer(proxy, 503)
                locker.execute("BEGIN EXCLUSIVE")
                # Held until an upload met it (the agent may be in a retry wait), then a little longer.
                agent.wait_for(refused, "an upload met the lock", timeout=15)
                time.sleep(rng.uniform(0.0, 1.0))
                locker.execute("COMMIT")
                agent.wait_for(another_answer(proxy, 200), "uploads resumed", timeout=20)
        agent.drain()
    finally:
        locker.close()
        proxy.stop()
    answers = activity_answers(proxy)
    assert answers[503] >= LOCKS, answers
    # The REST API only: the live client's websocket upgrade cannot pass this HTTP-only proxy (python-engineio
    # answers an upgrade request without its Upgrade header with an empty 500, locked or not).
    failures = [(method, path, status) for method, path, status in proxy.seen
                if path.startswith("/api/v1/") and status >= 500 and status != 503]
    assert not failures, failures
    assert "database unavailable, answered 503: database is locked" in (server.log_path.read_text())
    outcome = reconcile(agent.data, server, member)
    assert_exactly_once(outcome, server, member, minimum=LOCKS)
    fault_report.add("server database locked (BEGIN EXCLUSIVE until an upload met it)", LOCKS, outcome,
                     f"activity answers {dict(sorted(answers.items()))}")
