"""Enrollment both ways, every refusal, and what revoking a device does to REST and to its socket."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
import socketio
from sqlalchemy import text

from server import admin
from server.migrate import run_in_session
from support.servers import ServerProcess
from support.team import LiveClient, Team, enroll, get, issue_code, make_team


def enroll_raw(server: ServerProcess, **body: Any) -> requests.Response:
    payload = {"device_name": "pc", "platform": "windows", "agent_version": "1.0"} | body
    return requests.post(server.url + "/api/v1/enroll", json=payload, timeout=10)


def db(server: ServerProcess, work: Any) -> Any:
    return asyncio.run(run_in_session(server.database_url, work))


def new_key(server: ServerProcess, team: str, *, allow_create: bool) -> dict[str, Any]:
    return dict(db(server, lambda s, now: admin.create_key(s, team=team, name="k", now=now,
                                                           allow_create=allow_create)))


def test_code_enrollment_gives_a_working_token(server: ServerProcess, team: Team) -> None:
    person = team.people[1]
    me = get(server, person, "/api/v1/me")
    assert me.status_code == 200
    body = me.json()
    assert body["user"]["login"] == person.login
    assert body["device_id"] == person.device_id
    assert body["policy"] == {"idle_threshold_s": 300, "sync_interval_s": 300, "pause_allowed": False}
    skew = datetime.fromisoformat(body["server_time"]) - datetime.now(UTC)
    assert abs(skew) < timedelta(seconds=5)


def test_code_is_single_use_and_case_insensitive(server: ServerProcess, team: Team) -> None:
    code = issue_code(server, team.people[1].login)
    first = enroll_raw(server, code=code.lower().replace("-", " "))
    assert first.status_code == 201, first.text
    second = enroll_raw(server, code=code)
    assert second.status_code == 401
    assert second.json()["error"] == {"code": "code_used", "field": "code",
                                      "message": "this enrollment code was already used; ask for a new one"}


def test_wrong_and_expired_codes_are_refused(server: ServerProcess, team: Team) -> None:
    wrong = enroll_raw(server, code="AAAAA-BBBBB")
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (401, "bad_code")
    expired = issue_code(server, team.people[1].login, now=datetime.now(UTC) - timedelta(hours=2), valid_hours=1)
    answer = enroll_raw(server, code=expired)
    assert (answer.status_code, answer.json()["error"]["code"]) == (401, "code_expired")


def test_deployment_key_matches_roster_login(server: ServerProcess, team: Team) -> None:
    key = new_key(server, team.name, allow_create=False)
    member = team.people[1]
    answer = enroll_raw(server, deployment_key=key["key"], login=member.login.upper())
    assert answer.status_code == 201, answer.text
    assert answer.json()["user"]["id"] == member.user_id
    stranger = enroll_raw(server, deployment_key=key["key"], login="CORP\\stranger")
    assert (stranger.status_code, stranger.json()["error"]["code"]) == (403, "not_on_roster")
    assert stranger.json()["error"]["field"] == "login"


def test_deployment_key_may_add_unknown_logins_to_its_team(server: ServerProcess, team: Team) -> None:
    key = new_key(server, team.name, allow_create=True)
    answer = enroll_raw(server, deployment_key=key["key"], login="CORP\\NewHire")
    assert answer.status_code == 201, answer.text
    user = answer.json()["user"]
    assert (user["login"], user["name"], user["role"]) == ("corp\\newhire", "newhire", "member")
    members = get(server, team.people[0], "/api/v1/team").json()["members"]
    assert user["id"] in {m["user_id"] for m in members}


def test_deployment_key_cannot_enroll_another_teams_user(server: ServerProcess, team: Team) -> None:
    other = make_team(server, roles=["member"])
    key = new_key(server, team.name, allow_create=True)
    answer = enroll_raw(server, deployment_key=key["key"], login=other.people[0].login)
    assert answer.status_code == 403
    assert answer.json()["error"] == {"code": "not_on_roster", "field": "login",
                                      "message": "this login is not on the roster of the deployment key's team"}


def test_revoked_or_unknown_deployment_key_is_refused(server: ServerProcess, team: Team) -> None:
    key = new_key(server, team.name, allow_create=True)
    db(server, lambda s, now: admin.revoke_key(s, key_id=key["id"], now=now))
    for secret in (key["key"], "spk_not-a-real-key-at-all"):
        answer = enroll_raw(server, deployment_key=secret, login=team.people[1].login)
        assert (answer.status_code, answer.json()["error"]["code"]) == (401, "bad_key")


@pytest.mark.parametrize("body, field", [
    ({}, "body"),
    ({"code": "ABCDE-FGHIJ", "deployment_key": "spk_0123456789", "login": "x"}, "body"),
    ({"deployment_key": "spk_0123456789"}, "body"),
    ({"code": "ABCDE-FGHIJ", "colour": "red"}, "colour"),
    ({"code": 12345}, "code"),
])
def test_malformed_enrollment_names_the_problem(server: ServerProcess, body: dict[str, Any], field: str) -> None:
    answer = enroll_raw(server, **body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == field


def test_tokens_are_stored_only_as_digests(server: ServerProcess, team: Team) -> None:
    rows = db(server, lambda s, now: s.execute(text("SELECT token_hash FROM devices")))
    stored = {row[0] for row in rows}
    assert len(team.people[0].token) >= 43  # 32 random bytes, url-safe base64
    assert not {p.token for p in team.people} & stored
    assert all(len(digest) == 64 for digest in stored)


def test_revoked_device_is_refused_on_rest_and_socket_and_disconnected(server: ServerProcess, team: Team) -> None:
    person = team.people[1]
    client = LiveClient(server, person.token, reconnection=False).connect()
    try:
        db(server, lambda s, now: admin.revoke_device(s, device_id=person.device_id, now=now))
        answer = get(server, person, "/api/v1/me")
        assert (answer.status_code, answer.json()["error"]["code"]) == (401, "revoked")
        deadline_ok = client.wait_until(lambda: not client.sio.connected, timeout=3)
        assert deadline_ok, "the revoked device's socket was not disconnected"
        refused = LiveClient(server, person.token, reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            refused.connect()
        assert refused.received("connect_error") == [{"message": "this device was revoked: enroll it again",
                                                      "data": {"code": "revoked"}}]
    finally:
        client.close()


def test_enrolled_device_token_for_a_second_device(server: ServerProcess, team: Team) -> None:
    person = team.people[1]
    body = enroll(server, issue_code(server, person.login), device_name="laptop")
    assert body["device_id"] != person.device_id
    assert body["user"]["id"] == person.user_id


def test_key_device_for_a_login_with_a_device_waits_for_approval_then_is_announced(server: ServerProcess,
                                                                                    team: Team) -> None:
    """The deployment-key model on both databases (tests/security covers the attacks in detail on SQLite)."""
    person = team.people[1]
    watcher = LiveClient(server, person.token).connect()
    try:
        key = new_key(server, team.name, allow_create=False)
        manager = enroll_raw(server, deployment_key=key["key"], login=team.people[0].login)
        assert (manager.status_code, manager.json()["error"]["code"]) == (403, "personal_code_required")
        answer = enroll_raw(server, deployment_key=key["key"], login=person.login, device_name="second")
        assert answer.status_code == 201 and answer.json()["status"] == "pending", answer.text
        device_id, token = answer.json()["device_id"], answer.json()["token"]
        me = requests.get(server.url + "/api/v1/me", headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert (me.status_code, me.json()["error"]["code"]) == (403, "device_pending")
        db(server, lambda s, now: admin.approve_device(s, device_id=device_id, now=now))
        event = watcher.wait_for("device-enrolled", lambda d: d["device_id"] == device_id, timeout=5)
        assert (event["name"], event["enrolled_via"], event["key_name"]) == ("second", "key", "k")
        me = requests.get(server.url + "/api/v1/me", headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert me.status_code == 200
        listed = {d["id"]: d for d in db(server, lambda s, now: admin.list_devices(s, login=person.login))}
        assert (listed[device_id]["status"], listed[device_id]["enrolled_via"]) == ("active", f"key:{key['id']} k")
    finally:
        watcher.close()
