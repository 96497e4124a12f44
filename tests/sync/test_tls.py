"""TLS is verified: an unknown certificate is refused with a message that points at the CA bundle setting,
and the same server is trusted once its CA is configured (as behind a TLS-inspecting corporate proxy). The
server serves HTTPS itself (``serve --ssl-certfile/--ssl-keyfile``), no proxy needed."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from server import admin
from server.headers import HSTS
from server.migrate import run_in_session
from support.keyrings import MemoryKeyring
from support.proxy import FaultProxy
from support.servers import ServerProcess, throwaway_certificate
from support.team import Team, issue_code
from sync.api import ApiClient
from sync.credentials import CredentialStore
from sync.enrollment import enroll
from sync.errors import Transient


@pytest.fixture
def https_proxy(server: ServerProcess, tmp_path: Path) -> Iterator[tuple[FaultProxy, Path]]:
    cert, key = throwaway_certificate(tmp_path, "proxy")
    proxy = FaultProxy(server.url, tls=(cert, key)).start()
    yield proxy, cert
    proxy.stop()


def test_unknown_certificate_is_refused_and_a_ca_bundle_fixes_it(https_proxy: tuple[FaultProxy, Path],
                                                                 team: Team) -> None:
    proxy, cert = https_proxy
    person = team.people[1]
    with pytest.raises(Transient, match=r"TLS check .* failed .*CA bundle"):
        ApiClient(proxy.url, lambda: person.token).me()
    assert proxy.seen == [], "nothing may be sent over an unverified connection"
    me = ApiClient(proxy.url, lambda: person.token, ca_bundle=str(cert)).me()
    assert me.user.id == person.user_id


def test_the_server_serves_https_itself_and_the_agent_enrolls_trusting_its_certificate(tmp_path: Path) -> None:
    server = ServerProcess(f"sqlite:///{tmp_path / 'server.db'}", tmp_path / "server.log",
                           tls=throwaway_certificate(tmp_path, "server")).start()
    try:
        assert server.url.startswith("https://") and server.tls is not None
        cert = str(server.tls[0])

        async def seed(session: Any, now: Any) -> None:
            await admin.create_team(session, name="TLS", now=now)
            await admin.create_user(session, team="TLS", login="tls@example.com", name="Tee", now=now)

        asyncio.run(run_in_session(server.database_url, seed))
        backend = MemoryKeyring()
        with pytest.raises(Transient, match=r"TLS check .* failed .*CA bundle"):
            enroll(ApiClient(server.url, lambda: None), CredentialStore(backend=backend),
                   code=issue_code(server, "tls@example.com"))
        client = ApiClient(server.url, lambda: backend.get_password("StaffPulse", server.url), ca_bundle=cert)
        user = enroll(client, CredentialStore(backend=backend), code=issue_code(server, "tls@example.com"))
        assert client.me().user.id == user.id
        answer = requests.get(server.url + "/healthz", verify=cert, timeout=10)
        assert answer.headers[HSTS[0].decode()] == HSTS[1].decode(), "HSTS on answers sent over TLS"
    finally:
        server.stop()
