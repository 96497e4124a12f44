"""Enrolling from the agent side against the real server: code, deployment key with the OS login, errors."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from sqlalchemy import select

from protocol.version import VERSION
from server import admin
from server.migrate import run_in_session
from server.models import Device
from support.keyrings import MemoryKeyring
from support.servers import ServerProcess
from support.team import Team, issue_code
from sync.api import ApiClient
from sync.credentials import CredentialStore
from sync.enrollment import enroll, os_login
from sync.errors import NotEnrolled, Refused


def store() -> tuple[CredentialStore, MemoryKeyring]:
    backend = MemoryKeyring()
    return CredentialStore(backend=backend), backend


def api(server: ServerProcess, credentials: CredentialStore) -> ApiClient:
    return ApiClient(server.url, lambda: credentials.load(server.url))


def test_code_enrollment_stores_the_token_and_it_works(server: ServerProcess, team: Team) -> None:
    credentials, backend = store()
    client = api(server, credentials)
    with pytest.raises(NotEnrolled):
        client.me()
    user = enroll(client, credentials, code=issue_code(server, team.people[1].login), device_name="pc-7")
    assert user.login == team.people[1].login
    assert len(backend.items) == 1
    assert client.me().user.id == team.people[1].user_id

    async def versions(session: Any, now: Any) -> list[str]:
        return list(await session.scalars(select(Device.agent_version).where(Device.name == "pc-7")))

    assert asyncio.run(run_in_session(server.database_url, versions)) == [VERSION], "the release's version"


def test_deployment_key_uses_the_os_login(server: ServerProcess, team: Team, monkeypatch: pytest.MonkeyPatch) -> None:
    async def key(session: Any, now: Any) -> dict[str, Any]:
        return await admin.create_key(session, team=team.name, name="msi", now=now, allow_create=True)

    secret = asyncio.run(run_in_session(server.database_url, key))["key"]
    monkeypatch.setenv("USER", "jdoe-test")
    credentials, _ = store()
    user = enroll(api(server, credentials), credentials, deployment_key=secret)
    assert user.login == "jdoe-test"


def test_used_code_is_refused_with_the_servers_reason(server: ServerProcess, team: Team) -> None:
    credentials, _ = store()
    code = issue_code(server, team.people[1].login)
    enroll(api(server, credentials), credentials, code=code)
    again, again_backend = store()
    with pytest.raises(Refused, match="already used") as refused:
        enroll(api(server, again), again, code=code)
    assert (refused.value.status, refused.value.code, refused.value.field) == (401, "code_used", "code")
    assert again_backend.items == {}


def test_wrong_team_login_is_refused_naming_the_field(server: ServerProcess, team: Team) -> None:
    async def key(session: Any, now: Any) -> dict[str, Any]:
        return await admin.create_key(session, team=team.name, name="msi", now=now)

    secret = asyncio.run(run_in_session(server.database_url, key))["key"]
    credentials, _ = store()
    with pytest.raises(Refused) as refused:
        enroll(api(server, credentials), credentials, deployment_key=secret, login="CORP\\nobody")
    assert refused.value.field == "login"


def test_os_login_per_platform() -> None:
    assert os_login({"USERNAME": "jdoe", "USERDOMAIN": "CORP"}, "win32") == "CORP\\jdoe"
    assert os_login({"USERNAME": "jdoe"}, "win32") == "jdoe"
    assert os_login({"USER": "jdoe"}, "darwin") == "jdoe"


def test_an_api_client_refuses_a_second_thread(server: ServerProcess, team: Team) -> None:
    """sync/api.py's rule: an ApiClient and its requests.Session belong to the thread that first used it."""
    client = ApiClient(server.url, lambda: team.people[1].token)
    assert client.me().user.id == team.people[1].user_id
    errors: list[BaseException] = []

    def elsewhere() -> None:
        try:
            client.me()
        except RuntimeError as exc:
            errors.append(exc)

    thread = threading.Thread(target=elsewhere, name="intruder")
    thread.start()
    thread.join(10)
    assert len(errors) == 1 and "'intruder'" in str(errors[0])
    assert client.me().user.id == team.people[1].user_id, "its own thread still uses it"
