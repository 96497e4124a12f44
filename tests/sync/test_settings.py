"""The agent's settings file: round trip, and a broken file names the file and the field; IT's policy on top of
it, and the first start of an IT-deployed agent enrolling itself with the policy's deployment key."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from agent.policy import MachinePolicy
from protocol.defaults import IDLE_THRESHOLD_S, INTERVAL_RANGE_S, SYNC_INTERVAL_S
from protocol.schema import Policy
from server import admin
from server.migrate import run_in_session
from support.keyrings import MemoryKeyring
from support.servers import ServerProcess
from support.team import Team
from sync.credentials import CredentialStore
from sync.enrollment import enroll_by_policy
from sync.errors import BadSetting, in_words
from sync.settings import (
    FILE_NAME,
    AgentSettings,
    Decided,
    Decisions,
    Effective,
    SettingsError,
    Source,
    changed,
    decide,
    effective,
    load,
    save,
    save_unlocked,
)


def test_round_trip_and_defaults(tmp_path: Path) -> None:
    assert load(tmp_path) == AgentSettings()
    save(tmp_path, AgentSettings(server_url="https://pulse.example.com/", idle_threshold_s=120))
    assert load(tmp_path) == AgentSettings(server_url="https://pulse.example.com", idle_threshold_s=120)
    assert [p.name for p in tmp_path.iterdir()] == [FILE_NAME], "no temporary file left behind"


@pytest.mark.parametrize("content, field", [
    ('{"server_url": "ftp://x"}', "server_url"),
    ('{"server_url": "http://pulse.example.com"}', "server_url"),
    ('{"idle_threshold_s": 5}', "idle_threshold_s"),
    ('{"colour": "red"}', "colour"),
    ("{not json", "file"),
])
def test_broken_file_names_file_and_field(tmp_path: Path, content: str, field: str) -> None:
    (tmp_path / FILE_NAME).write_text(content)
    with pytest.raises(SettingsError) as refused:
        load(tmp_path)
    assert str(refused.value).startswith(f"{tmp_path / FILE_NAME}: {field}:")


# --- IT's policy on top of the user's settings ------------------------------------------------------------------


def test_it_beats_the_team_which_beats_the_person() -> None:
    """Issue 15, item 8: who decides the idle threshold and the upload interval, and what is in force."""
    mine = AgentSettings(idle_threshold_s=240)
    team = Policy(idle_threshold_s=120, sync_interval_s=600, pause_allowed=False)
    assert decide(mine, frozenset(), None) == Decisions(Decided(240, Source.YOURS),
                                                        Decided(SYNC_INTERVAL_S, Source.DEFAULT))
    assert decide(mine, frozenset(), team) == Decisions(Decided(120, Source.TEAM), Decided(600, Source.TEAM))
    it = effective(mine, MachinePolicy(idle_threshold_s=900))
    assert decide(it.settings, it.locked, team) == Decisions(Decided(900, Source.IT), Decided(600, Source.TEAM))


def test_a_typed_value_that_cannot_be_used_is_a_bad_setting_in_words() -> None:
    """Issue 15, item 10: no pydantic report for people."""
    with pytest.raises(BadSetting) as bad:
        changed(AgentSettings(), server_url="http://pulse.example.com")
    assert (bad.value.field, bad.value.value) == ("server_url", "http://pulse.example.com")
    words = in_words(bad.value)
    assert words.startswith("“http://pulse.example.com” cannot be used as the server address: it must start with "
                            "https://"), words
    assert "Value error" not in words and "pydantic" not in words


def test_policy_beats_user_settings_and_locks_those_fields() -> None:
    user = AgentSettings(server_url="https://mine.example.com", ca_bundle="/etc/corp.pem", idle_threshold_s=120)
    policy = MachinePolicy(server_url="https://pulse.corp.example", enroll_token="dk_x", idle_threshold_s=900)
    merged = effective(user, policy)
    assert merged.settings == AgentSettings(server_url="https://pulse.corp.example", ca_bundle="/etc/corp.pem",
                                            idle_threshold_s=900)
    assert merged.locked == {"server_url", "idle_threshold_s"}
    only_idle = effective(user, MachinePolicy(idle_threshold_s=600))
    assert only_idle.settings.server_url == "https://mine.example.com" and only_idle.locked == {"idle_threshold_s"}
    assert effective(user, MachinePolicy()) == Effective(user, frozenset())


def test_saving_keeps_locked_fields_out_of_the_users_file(tmp_path: Path) -> None:
    save(tmp_path, AgentSettings(server_url="https://mine.example.com", idle_threshold_s=120))
    edited = AgentSettings(server_url="https://pulse.corp.example", idle_threshold_s=240)  # policy's URL shown
    saved = save_unlocked(tmp_path, edited, frozenset({"server_url"}))
    assert saved == load(tmp_path) == AgentSettings(server_url="https://mine.example.com", idle_threshold_s=240)


def test_the_agent_and_a_new_team_start_from_the_same_defaults_and_bounds(server: ServerProcess) -> None:
    """protocol.defaults names them once; the server's new team and the agent's own settings both use them."""
    async def create(session: Any, now: datetime) -> dict[str, Any]:
        return await admin.create_team(session, name="Defaults", now=now)

    team = asyncio.run(run_in_session(server.database_url, create))
    assert team["idle_threshold_s"] == AgentSettings().idle_threshold_s == IDLE_THRESHOLD_S
    assert team["sync_interval_s"] == SYNC_INTERVAL_S
    low, high = INTERVAL_RANGE_S
    for outside in (low - 1, high + 1):
        with pytest.raises(ValueError, match="idle_threshold_s"):
            AgentSettings(idle_threshold_s=outside)

        async def refused(session: Any, now: datetime, value: int = outside) -> dict[str, Any]:
            return await admin.create_team(session, name=f"Bad {value}", now=now, idle_threshold_s=value)

        with pytest.raises(admin.AdminError, match=f"between {low} and {high} seconds"):
            asyncio.run(run_in_session(server.database_url, refused))
    assert AgentSettings(idle_threshold_s=low).idle_threshold_s == low


def deployment_key(server: ServerProcess, team: Team) -> str:
    async def work(session: Any, now: datetime) -> dict[str, Any]:
        return await admin.create_key(session, team=team.name, name="msi", now=now, allow_create=True)

    key: str = asyncio.run(run_in_session(server.database_url, work))["key"]
    return key


def test_first_start_enrolls_with_the_policy_key_once(server: ServerProcess, team: Team,
                                                      caplog: pytest.LogCaptureFixture,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    key = deployment_key(server, team)
    monkeypatch.setenv("USER", "newhire")
    policy = MachinePolicy(server_url=server.url, enroll_token=key)
    settings = effective(AgentSettings(), policy).settings
    store = CredentialStore(backend=MemoryKeyring())
    with caplog.at_level(logging.DEBUG):
        user = enroll_by_policy(policy, settings, store)
    assert user is not None and user.login == "newhire"
    token = store.load(server.url)
    assert token is not None
    assert requests.get(server.url + "/api/v1/me", headers={"Authorization": f"Bearer {token}"},
                        timeout=10).json()["user"]["login"] == "newhire"
    assert key not in caplog.text and token not in caplog.text, "neither the key nor the token is logged"
    assert enroll_by_policy(policy, settings, store) is None, "already enrolled: nothing to do"
    assert store.load(server.url) == token


def test_policy_enrollment_failure_is_logged_without_the_key(server: ServerProcess,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    policy = MachinePolicy(server_url=server.url, enroll_token="dk_not-a-real-key")
    store = CredentialStore(backend=MemoryKeyring())
    with caplog.at_level(logging.WARNING):
        assert enroll_by_policy(policy, effective(AgentSettings(), policy).settings, store) is None
    assert store.load(server.url) is None
    assert "deployment key from policy" in caplog.text and "dk_not-a-real-key" not in caplog.text
    assert enroll_by_policy(MachinePolicy(server_url=server.url), AgentSettings(server_url=server.url),
                            store) is None, "no key in policy: nothing to do"
