"""TLS is verified: an unknown certificate is refused with a message that points at the CA bundle setting,
and the same server is trusted once its CA is configured (as behind a TLS-inspecting corporate proxy)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.proxy import FaultProxy
from support.servers import ServerProcess
from support.team import Team
from sync.api import ApiClient
from sync.errors import Transient


@pytest.fixture
def https_proxy(server: ServerProcess, tmp_path: Path) -> Iterator[tuple[FaultProxy, Path]]:
    cert, key = tmp_path / "proxy.pem", tmp_path / "proxy.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-keyout", str(key),
                    "-out", str(cert), "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
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
