"""A real server stops on SIGINT and SIGTERM within its graceful limit, with a long poll in flight,
and keeps what it had committed: systemd (or IT) waits, then SIGKILLs a server that does not stop, losing the
orderly shutdown. The long poll is what an agent behind a proxy without websockets holds open (up to ping
interval + timeout); uvicorn cancels it after the graceful limit, and its socket closing notes a last-seen
moment just as the app's lifespan stops the presence writer (tests/server/test_presence_reports.py holds that
race in one loop step)."""

from __future__ import annotations

import contextlib
import signal
import sqlite3
import subprocess
from pathlib import Path

import pytest
import requests
import socketio

from server.cli import GRACEFUL_SHUTDOWN_S
from support.servers import TEST_SERVER_ARGS, ServerProcess
from support.team import make_team, post_batch, recent_minutes, slot

#: The graceful limit, then the lifespan's stop and the interpreter's exit, on a busy two-core machine.
EXIT_BOUND_S = GRACEFUL_SHUTDOWN_S + 5


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_the_server_exits_within_its_graceful_limit_with_a_long_poll_in_flight(tmp_path: Path,
                                                                              signum: signal.Signals) -> None:
    database = tmp_path / "server.db"
    server = ServerProcess(f"sqlite:///{database}", tmp_path / "server.log", *TEST_SERVER_ARGS).start()
    http = requests.Session()  # ours, so the polling client's connections are closed with it
    polling = socketio.Client(reconnection=False, http_session=http)
    try:
        member = make_team(server).people[1]
        minutes = recent_minutes(5)
        assert post_batch(server, member, [slot(m) for m in minutes]).status_code == 200
        polling.connect(server.url, socketio_path="/api/socket", auth={"token": member.token},
                        transports=["polling"], wait_timeout=10)  # its client keeps a GET waiting at the server
        assert server.proc is not None
        server.proc.send_signal(signum)
        try:
            server.proc.wait(timeout=EXIT_BOUND_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the server was still running {EXIT_BOUND_S} s after {signum.name}; see {server.log_path}")
    finally:
        polling.disconnect()
        http.close()
        server.stop(kill=True)  # only when still running; a stopped one is just reaped
    with contextlib.closing(sqlite3.connect(database)) as db:
        (stored,) = db.execute("SELECT count(*) FROM activity_slots WHERE user_id = ?", (member.user_id,)).fetchone()
    assert stored == len(minutes), "an answered upload is kept"
