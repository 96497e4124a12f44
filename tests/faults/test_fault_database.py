"""The server's database is locked: another process holds ``BEGIN EXCLUSIVE`` on the SQLite file for seconds
at a time (a backup tool, an admin's sqlite3 shell) while the agent uploads.

The server waits ``--db-busy-timeout`` (1 s here, 30 s by default) for the lock, then answers 503
``unavailable`` with ``Retry-After``, never 500; the agent retries the same batch, and every minute arrives once.
The answers are observed at an HTTP proxy between them (``support.proxy.FaultProxy`` passing everything).

Each step waits for what the agent did, never for a time: uploads flow, the lock is taken, held until an upload
and its retry both met it, released, and held again once uploads resumed.
"""

from __future__ import annotations

import sqlite3
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
    locker = sqlite3.connect(server.database_url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        agent.start()
        # A declared break keeps the agent writing minutes whatever happens: with no input in this test it would
        # otherwise go away for good the first time it is starved of CPU for a quarter of a second (15 s of its
        # scaled time: a "sleep"), and a lock would then wait for an upload that never comes.
        assert agent.ask({"command": "break", "on": True}) == {"ok": True}
        with Syncer(agent, pause=0.1):
            agent.wait_for(another_answer(proxy, 200), "a first upload", timeout=20)
            for _ in range(LOCKS):
                refused = another_answer(proxy, 503)
                locker.execute("BEGIN EXCLUSIVE")
                agent.wait_for(refused, "an upload met the lock", timeout=15)
                retried = another_answer(proxy, 503)
                agent.wait_for(retried, "its retry met the lock too", timeout=15)
                resumed = another_answer(proxy, 200)
                locker.execute("COMMIT")
                agent.wait_for(resumed, "uploads resumed", timeout=20)
        agent.drain()
    finally:
        locker.close()
        proxy.stop()
    answers = activity_answers(proxy)
    assert answers[503] >= 2 * LOCKS, answers
    # The REST API only: the live client's websocket upgrade cannot pass this HTTP-only proxy (python-engineio
    # answers an upgrade request without its Upgrade header with an empty 500, locked or not).
    failures = [(method, path, status) for method, path, status in proxy.seen
                if path.startswith("/api/v1/") and status >= 500 and status != 503]
    assert not failures, failures
    assert "database unavailable, answered 503: database is locked" in (server.log_path.read_text())
    outcome = reconcile(agent.data, server, member)
    assert_exactly_once(outcome, server, member, minimum=LOCKS)
    fault_report.add("server database locked (BEGIN EXCLUSIVE until an upload and its retry met it)", LOCKS, outcome,
                     f"activity answers {dict(sorted(answers.items()))}")
