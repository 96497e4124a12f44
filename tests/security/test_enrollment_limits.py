"""Issue 13 items 1 and 10: guessing enrollment secrets online is slowed to nothing, offline it needs more than the
database.

Before: 2,000 random code guesses ran at 452/s with no slowdown, and a code's stored digest was a plain SHA-256
of 50 bits. This module has its own server (the security conftest's is per module), so the budgets it spends
on purpose cost no other test anything. Requests go over ``http.client`` so each can leave from its own
loopback address (127.0.0.x are all this machine on Linux).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import http.client
import json
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from server.migrate import run_in_session
from support.servers import TEST_SERVER_ARGS, ServerProcess
from support.team import Team, issue_code, make_team, new_key

#: Settings.enroll_burst: failed attempts allowed at once per address and per secret.
BURST = 20


def post_enroll(server: ServerProcess, body: dict[str, Any], *, source: str = "127.0.0.1",
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], dict[str, Any]]:
    """``POST /api/v1/enroll`` from ``source``, with extra ``headers``: status, headers (lower-cased) and the
    JSON body."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10, source_address=(source, 0))
    try:
        connection.request("POST", "/api/v1/enroll", json.dumps(
            {"device_name": "pc", "platform": "linux", "agent_version": "test"} | body),
            {"Content-Type": "application/json"} | (headers or {}))
        response = connection.getresponse()
        answer = (response.status, {k.lower(): v for k, v in response.getheaders()}, json.loads(response.read()))
    finally:
        connection.close()
    return answer


def random_code() -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    raw = "".join(secrets.choice(alphabet) for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"


def test_random_code_guessing_gets_429_quickly_and_others_still_enroll(server: ServerProcess, team: Team) -> None:
    statuses = []
    for _ in range(BURST + 5):
        status, headers, body = post_enroll(server, {"code": random_code()}, source="127.0.0.2")
        statuses.append(status)
        if status == 429:
            assert body["error"]["code"] == "rate_limited"
            assert int(headers["retry-after"]) >= 1
    assert statuses[:BURST] == [401] * BURST, statuses
    assert statuses[BURST:] == [429] * 5, "guesses beyond the burst are refused before they are tried"
    # Refused before it was tried: even a good code from that address waits (and stays unused).
    code = issue_code(server, team.people[1].login)
    assert post_enroll(server, {"code": code}, source="127.0.0.2")[0] == 429
    # Someone else, elsewhere, enrolls as usual, with the very code the guesser's address could not use.
    status, _headers, body = post_enroll(server, {"code": code}, source="127.0.0.3")
    assert status == 201, body
    assert body["user"]["id"] == team.people[1].user_id


def test_one_key_trying_logins_from_many_addresses_gets_429(server: ServerProcess) -> None:
    """A key holder probing the roster from rotating addresses is limited per key; another key is not."""
    team = make_team(server, roles=("member",))
    key = new_key(server, team.name)
    statuses = [post_enroll(server, {"deployment_key": key, "login": f"probe{n}@example.com"},
                            source=f"127.0.1.{n + 1}")[0] for n in range(BURST + 3)]
    assert statuses == [403] * BURST + [429] * 3, statuses
    other = new_key(server, team.name)
    status, _headers, body = post_enroll(server, {"deployment_key": other, "login": team.people[0].login},
                                         source="127.0.1.250")
    assert status == 201, body


def test_successful_enrollments_cost_nothing(server: ServerProcess) -> None:
    """A company's silent install: hundreds of machines behind one NAT address, one key, all good logins."""
    team = make_team(server, roles=["member"] * 3)
    key = new_key(server, team.name, allow_create=True)
    for n in range(BURST * 2):
        status, _headers, body = post_enroll(server, {"deployment_key": key, "login": f"staff{n}@nat.example"},
                                             source="127.0.2.1")
        assert status == 201, (n, body)


def test_codes_are_stored_as_a_keyed_hash_with_the_secret_outside_the_database(server: ServerProcess,
                                                                              team: Team) -> None:
    """A copy of the database alone no longer yields the unused codes by brute force over 2^50 SHA-256."""
    code = issue_code(server, team.people[1].login)
    normalised = code.replace("-", "")

    async def stored(session: Any, _now: Any) -> set[str]:
        return {row[0] for row in await session.execute(text("SELECT code_hash FROM enrollment_codes"))}

    digests = asyncio.run(run_in_session(server.database_url, stored))
    assert hashlib.sha256(normalised.encode()).hexdigest() not in digests
    database = Path(server.database_url.removeprefix("sqlite:///"))
    secret_file = database.with_name(database.name + ".secret")
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    secret = bytes.fromhex(secret_file.read_text().strip())
    assert hmac.new(secret, normalised.encode(), hashlib.sha256).hexdigest() in digests
    assert secret_file.read_text().strip() not in database.read_bytes().decode("latin-1")


def test_bad_logins_through_a_key_never_block_its_good_enrollments(server: ServerProcess) -> None:
    """Before: the per-key budget was charged before each attempt, so any staff member holding the company's
    key kept it answering 429 with 20 bad logins per 100 s and every silent install failed. Now only a valid
    key's failures spend its budget, and a good login through it is never refused."""
    team = make_team(server, roles=("member", "member"))
    key = new_key(server, team.name)
    statuses = [post_enroll(server, {"deployment_key": key, "login": f"nobody{n}@example.com"},
                            source=f"127.0.3.{n + 1}")[0] for n in range(BURST + 3)]
    assert statuses == [403] * BURST + [429] * 3, statuses
    for person, source in zip(team.people, ("127.0.3.250", "127.0.3.251"), strict=True):
        status, _headers, body = post_enroll(server, {"deployment_key": key, "login": person.login}, source=source)
        assert status == 201, body
        assert body["user"]["id"] == person.user_id


def test_an_unknown_key_is_limited_per_address_only(server: ServerProcess) -> None:
    """Keys and codes are guessed by value: the address's budget stops the guesser, and the real key, tried
    from another address meanwhile, is untouched."""
    team = make_team(server, roles=("member",))
    statuses = [post_enroll(server, {"deployment_key": f"guess-{n}-{secrets.token_hex(8)}", "login": "x@y.z"},
                            source="127.0.4.1")[0] for n in range(BURST + 2)]
    assert statuses == [401] * BURST + [429] * 2, statuses
    status, _headers, body = post_enroll(server, {"deployment_key": new_key(server, team.name),
                                                  "login": team.people[0].login}, source="127.0.4.2")
    assert status == 201, body


# Behind a proxy on another host every failed enrollment was charged to the proxy, because ``serve`` had no way
# to trust its X-Forwarded-For (docs/security.md named a uvicorn flag the command did not have). The "proxy" is
# 127.0.0.5 and the clients it forwards are made-up loopback addresses: nothing leaves this machine.
PROXY = "127.0.0.5"


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    base = tmp_path_factory.mktemp("proxied-server")
    process = ServerProcess(f"sqlite:///{base / 'server.db'}", base / "server.log", *TEST_SERVER_ARGS,
                            "--forwarded-allow-ips", PROXY).start()
    yield process
    process.stop()


def bad_code_from(server: ServerProcess, source: str, forwarded_for: str) -> int:
    return post_enroll(server, {"code": random_code()}, source=source,
                       headers={"X-Forwarded-For": forwarded_for})[0]


def test_failures_are_charged_to_the_forwarded_client_not_the_proxy(proxied: ServerProcess) -> None:
    statuses = [bad_code_from(proxied, PROXY, "127.0.9.1") for _ in range(BURST + 1)]
    assert statuses == [401] * BURST + [429], statuses
    assert bad_code_from(proxied, PROXY, "127.0.9.2") == 401, "another client behind the proxy has its own budget"
    # A peer the server does not trust cannot borrow a budget (or frame a client) by sending the header itself:
    # it is counted as itself, so its first guesses are tried even when naming the blocked client.
    assert bad_code_from(proxied, "127.0.0.6", "127.0.9.1") == 401
    statuses = [bad_code_from(proxied, "127.0.0.6", f"127.0.8.{n}") for n in range(1, BURST + 1)]
    assert statuses == [401] * (BURST - 1) + [429], "rotating a forged header does not escape the peer's budget"
