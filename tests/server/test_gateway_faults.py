"""The socket handshake when the server's database is gone: refused at once with a code the agent retries on.

A real server on a real PostgreSQL cluster of the test's own, which the test stops under it. Before, the
authenticator's database error escaped the connect handler: python-socketio logged it and answered nothing, so
the client got python-socketio's bare "Connection refused by server", with no code to decide on.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import socketio

from protocol.refusals import FINAL, ConnectRefusal
from support.servers import TEST_SERVER_ARGS, PostgresCluster, ServerProcess
from support.team import LiveClient, make_team

pytestmark = pytest.mark.postgres


@pytest.fixture
def cluster() -> Iterator[PostgresCluster]:
    own = PostgresCluster().start()
    try:
        yield own
    finally:
        own.stop()


def test_a_connect_while_the_database_is_down_is_refused_as_unavailable(cluster: PostgresCluster,
                                                                         tmp_path: Path) -> None:
    server = ServerProcess(cluster.create_database("gateway"), tmp_path / "server.log", *TEST_SERVER_ARGS).start()
    try:
        member = make_team(server).people[0]
        LiveClient(server, member.token, reconnection=False).connect().close()  # the token is good
        cluster.halt()
        client = LiveClient(server, member.token, reconnection=False)
        began = time.monotonic()
        with pytest.raises(socketio.exceptions.ConnectionError):
            client.connect()
        answered_in = time.monotonic() - began
        [refused] = client.received("connect_error")
        assert refused["data"] == {"code": ConnectRefusal.UNAVAILABLE}, refused
        assert ConnectRefusal.UNAVAILABLE not in FINAL, "the agent must retry a database outage, not give up"
        assert answered_in < 10, f"answered after {answered_in:.1f} s: the client's timeout, not a refusal"
        assert "socket connect refused" in server.log_path.read_text()
    finally:
        server.stop()
