"""Who may do what: every REST endpoint and every socket event kind, tried by every kind of caller, against a
real server. The observed table must equal the expected one, and docs/security.md shows the same table (the
test compares it, so the page cannot drift; ``STAFFPULSE_UPDATE_DOCS=1`` rewrites it from what was observed).

The target of every action is Alice, a member of team T: her data, her presence, her minutes. The callers:
no token, a garbage token, a revoked device token (one of Alice's own devices, revoked), a pending device token
(enrolled with T's deployment key as Alice, who already has a device, not approved yet), Alice herself, Bob (a
member of T), T's manager, T's admin, a member of another team and that team's manager. "What another caller
gets" means what of Alice's data their answer contains; the history paths that name a user name Alice.
"""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import socketio

from server import admin
from server.migrate import run_in_session
from support.servers import ServerProcess
from support.team import (
    LiveClient,
    Person,
    enroll,
    enroll_by_key,
    issue_code,
    make_team,
    new_key,
    recent_minutes,
    settle,
    slot,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"
START, END = "<!-- auth-matrix:start -->", "<!-- auth-matrix:end -->"

CALLERS = ["no token", "garbage token", "revoked device (Alice's)", "pending device (Alice's)", "Alice (member)",
           "Bob (member, same team)", "manager (same team)", "admin (same team)", "member of other team",
           "manager of other team"]
#: The callers with a working token.
MEMBERS = CALLERS[4:]

#: A pending device (a deployment key's extra device for Alice, not approved yet) is known but refused: 403.
DENIED = {"no token": "401", "garbage token": "401", "revoked device (Alice's)": "401",
          "pending device (Alice's)": "403"}
REFUSED = dict.fromkeys(DENIED, "refused")
NOT_CONNECTED = dict.fromkeys(DENIED, "no (not connected)")
#: The team's history is its managers' and admins'; a member is told why (403 ``manager_only``), another team's
#: manager gets their own team, without Alice.
TEAM_HISTORY = DENIED | dict.fromkeys(MEMBERS, "403 manager_only") | {
    "manager (same team)": "200, A's day", "admin (same team)": "200, A's day",
    "manager of other team": "200, A not listed"}
#: Alice's own history is hers and her team's managers' and admins'; anyone else gets the 404 of an unknown id.
ALICES_HISTORY = DENIED | dict.fromkeys(MEMBERS, "404 not_found") | dict.fromkeys(
    ("Alice (member)", "manager (same team)", "admin (same team)"), "200, A's day")

#: action → caller → what happens. "401" and "refused" are denials; "A's" means Alice's data.
EXPECTED: dict[str, dict[str, str]] = {
    "POST /api/v1/enroll (a valid code)": dict.fromkeys(CALLERS, "201 (the header is ignored)"),
    "GET /api/v1/me": DENIED | {c: "200 self" for c in MEMBERS},
    "POST /api/v1/activity": DENIED | {c: "200 own device" for c in MEMBERS},
    "PUT /api/v1/presence": DENIED | {c: "200 own device" for c in MEMBERS},
    "GET /api/v1/team": DENIED | {"Alice (member)": "200, A listed, no totals",
                                  "Bob (member, same team)": "200, A listed, no totals",
                                  "manager (same team)": "200, A listed, A's totals",
                                  "admin (same team)": "200, A listed, A's totals",
                                  "member of other team": "200, A not listed",
                                  "manager of other team": "200, A not listed"},
    "GET /api/v1/me/days/{day}": DENIED | {c: "200, not A's minutes" for c in MEMBERS} | {
        "Alice (member)": "200, A's minutes"},
    "GET /api/v1/team/days/{day}": TEAM_HISTORY,
    "GET /api/v1/team/days?start&end": TEAM_HISTORY,
    "GET /api/v1/team/members/{A}/days/{day}": ALICES_HISTORY,
    "GET /api/v1/team/members/{A}/days?start&end": ALICES_HISTORY,
    "GET /healthz": dict.fromkeys(CALLERS, "200"),
    "socket connect": REFUSED | {c: "accepted" for c in MEMBERS},
    "receives Alice's `presence`": NOT_CONNECTED | dict.fromkeys(MEMBERS, "no") | dict.fromkeys(
        ("Alice (member)", "Bob (member, same team)", "manager (same team)", "admin (same team)"), "yes"),
    "receives Alice's `performance-update`": NOT_CONNECTED | dict.fromkeys(MEMBERS, "no") | {
        "Alice (member)": "yes"},
    "receives Alice's `team-performance-update`": NOT_CONNECTED | dict.fromkeys(MEMBERS, "no") | dict.fromkeys(
        ("manager (same team)", "admin (same team)"), "yes"),
}

#: Alice's minute with a count nobody else's has, to spot her data in other callers' answers.
MARK = 4242


def render(table: dict[str, dict[str, str]]) -> str:
    lines = ["| action | " + " | ".join(CALLERS) + " |", "|---" * (len(CALLERS) + 1) + "|"]
    lines += [f"| {action} | " + " | ".join(row[c] for c in CALLERS) + " |" for action, row in table.items()]
    return "\n".join(lines)


def headers(token: str | None) -> dict[str, str]:
    return {} if token is None else {"Authorization": f"Bearer {token}"}


def revoke(server: ServerProcess, device_id: int) -> None:
    async def work(session: Any, now: datetime) -> Any:
        return await admin.revoke_device(session, device_id=device_id, now=now)

    asyncio.run(run_in_session(server.database_url, work))


@pytest.fixture
def cast(server: ServerProcess) -> Iterator[tuple[dict[str, str | None], dict[str, Person]]]:
    team = make_team(server, roles=("manager", "member", "member", "admin"), time_zone="UTC")
    manager, alice, bob, chief = team.people
    outsider, outside_manager = make_team(server, roles=("member", "manager"), time_zone="UTC").people
    revoked = enroll(server, issue_code(server, alice.login), "alice-old-pc")
    revoke(server, revoked["device_id"])
    pending = enroll_by_key(server, new_key(server, team.name), alice.login, "alice-key-pc").json()
    assert pending["status"] == "pending"
    tokens: dict[str, str | None] = {
        "no token": None, "garbage token": "garbage-" + uuid.uuid4().hex, "revoked device (Alice's)": revoked["token"],
        "pending device (Alice's)": pending["token"],
        "Alice (member)": alice.token, "Bob (member, same team)": bob.token, "manager (same team)": manager.token,
        "admin (same team)": chief.token, "member of other team": outsider.token,
        "manager of other team": outside_manager.token}
    people = {"Alice (member)": alice, "Bob (member, same team)": bob, "manager (same team)": manager,
              "admin (same team)": chief, "member of other team": outsider,
              "manager of other team": outside_manager}
    yield tokens, people


def observe_rest(server: ServerProcess, tokens: dict[str, str | None], people: dict[str, Person],
                 alice: Person) -> dict[str, dict[str, str]]:
    # Codes of a bystander: new devices of Alice would count in her presence.
    (enrollee,) = make_team(server, roles=("member",)).people
    url = server.url + "/api/v1"
    today = datetime.now(UTC).date().isoformat()
    minutes = iter(recent_minutes(len(CALLERS) + 1, ago=5))
    first = next(minutes)
    assert requests.post(url + "/activity", headers=alice.headers, timeout=10, json={
        "batch_id": str(uuid.uuid4()), "slots": [slot(first, keys=MARK)]}).json()["accepted"] == 1
    observed: dict[str, dict[str, str]] = {action: {} for action in EXPECTED if not action.startswith(("socket",
                                                                                                       "receives"))}

    def cell(action: str, caller: str, answer: requests.Response, describe: Callable[[Any], str]) -> None:
        observed[action][caller] = describe(answer.json()) if answer.ok else str(answer.status_code)

    for caller, token in tokens.items():
        person = people.get(caller)
        code = issue_code(server, enrollee.login)
        answer = requests.post(url + "/enroll", headers=headers(token), timeout=10, json={
            "code": code, "device_name": "matrix-pc", "platform": "linux", "agent_version": "test"})
        observed["POST /api/v1/enroll (a valid code)"][caller] = (
            f"{answer.status_code} (the header is ignored)" if answer.status_code == 201 else str(answer.status_code))

        answer = requests.get(url + "/me", headers=headers(token), timeout=10)
        cell("GET /api/v1/me", caller, answer,
             lambda body, p=person: "200 self" if p is not None and body["user"]["id"] == p.user_id
             else "200 someone else")

        batch = {"batch_id": str(uuid.uuid4()), "slots": [slot(next(minutes))]}
        answer = requests.post(url + "/activity", headers=headers(token), timeout=10, json=batch)
        cell("POST /api/v1/activity", caller, answer,
             lambda body: "200 own device" if body["accepted"] == 1 else f"200 {body}")

        answer = requests.put(url + "/presence", headers=headers(token), timeout=10, json={
            "state": "active", "since": datetime.now(UTC).isoformat(), "seq": 1})
        cell("PUT /api/v1/presence", caller, answer, lambda body: "200 own device" if body["applied"] else "200")

        def team_view(body: Any) -> str:
            listed = [m for m in body["members"] if m["user_id"] == alice.user_id]
            if not listed:
                return "200, A not listed"
            totals = listed[0]["totals"]
            return "200, A listed, " + ("no totals" if totals is None else
                                        "A's totals" if totals["keys"] >= MARK else f"totals {totals}")

        cell("GET /api/v1/team", caller, requests.get(url + "/team", headers=headers(token), timeout=10), team_view)
        cell("GET /api/v1/me/days/{day}", caller,
             requests.get(f"{url}/me/days/{today}", headers=headers(token), timeout=10),
             lambda body: "200, A's minutes" if any(s["keys"] == MARK for s in body["slots"])
             else "200, not A's minutes")
        observe_history(observed, caller, url, token, alice, today)
        answer = requests.get(server.url + "/healthz", headers=headers(token), timeout=10)
        observed["GET /healthz"][caller] = str(answer.status_code)
    return observed


def observe_history(observed: dict[str, dict[str, str]], caller: str, url: str, token: str | None, alice: Person,
                    today: str) -> None:
    """The history routes: whether Alice's day (her marked minute) reaches the caller, and the refusal's code."""
    def alices(day: Any) -> bool:
        return bool(day["user_id"] == alice.user_id and day["totals"]["keys"] >= MARK)

    def team_day(body: Any) -> str:
        listed = [m for m in body["members"] if m["user_id"] == alice.user_id]
        return "200, A not listed" if not listed else "200, A's day" if alices(listed[0]) else f"200 {listed[0]}"

    def team_days(body: Any) -> str:
        listed = [m for m in body["members"] if m["user_id"] == alice.user_id]
        return "200, A not listed" if not listed else "200, A's day" if alices(listed[0]["days"][0]) else "200"

    paths: dict[str, tuple[str, Callable[[Any], str]]] = {
        "GET /api/v1/team/days/{day}": (f"/team/days/{today}", team_day),
        "GET /api/v1/team/days?start&end": (f"/team/days?start={today}&end={today}", team_days),
        "GET /api/v1/team/members/{A}/days/{day}": (
            f"/team/members/{alice.user_id}/days/{today}",
            lambda body: "200, A's day" if alices(body) else "200, not A's day"),
        "GET /api/v1/team/members/{A}/days?start&end": (
            f"/team/members/{alice.user_id}/days?start={today}&end={today}",
            lambda body: "200, A's day" if alices(body["days"][0] | {"user_id": body["user_id"]}) else "200"),
    }
    for action, (path, describe) in paths.items():
        answer = requests.get(url + path, headers=headers(token), timeout=10)
        if answer.ok:
            observed[action][caller] = describe(answer.json())
        elif answer.status_code in (403, 404) and caller in MEMBERS:
            observed[action][caller] = f"{answer.status_code} {answer.json()['error']['code']}"
        else:
            observed[action][caller] = str(answer.status_code)


def observe_live(server: ServerProcess, tokens: dict[str, str | None], alice: Person) -> dict[str, dict[str, str]]:
    observed: dict[str, dict[str, str]] = {action: {} for action in EXPECTED if action.startswith(("socket",
                                                                                                   "receives"))}
    clients: dict[str, LiveClient] = {}
    try:
        for caller, token in tokens.items():
            client = LiveClient(server, token, reconnection=False)
            try:
                client.connect()
            except socketio.exceptions.ConnectionError:
                observed["socket connect"][caller] = "refused"
                continue
            observed["socket connect"][caller] = "accepted"
            clients[caller] = client
        moment = recent_minutes(1, ago=2)[0]
        assert requests.post(server.url + "/api/v1/activity", headers=alice.headers, timeout=10, json={
            "batch_id": str(uuid.uuid4()), "slots": [slot(moment)]}).status_code == 200
        assert requests.put(server.url + "/api/v1/presence", headers=alice.headers, timeout=10, json={
            "state": "break", "since": datetime.now(UTC).isoformat(), "seq": 2}).status_code == 200
        events = {"receives Alice's `presence`": ("presence", lambda d: d["state"] == "break"),
                  "receives Alice's `performance-update`": ("performance-update", lambda d: True),
                  "receives Alice's `team-performance-update`": ("team-performance-update", lambda d: True)}
        # Wait for every event someone should get, then give the others a fair chance to (wrongly) arrive.
        for action, (event, match) in events.items():
            for caller, client in clients.items():
                if EXPECTED[action][caller] == "yes":
                    client.wait_for(event, lambda d, m=match: d["user_id"] == alice.user_id and m(d), timeout=5)
        settle(0.5)
        for action, (event, match) in events.items():
            for caller in tokens:
                client_or_none = clients.get(caller)
                observed[action][caller] = "no (not connected)" if client_or_none is None else (
                    "yes" if client_or_none.received(event, lambda d, m=match: d["user_id"] == alice.user_id and m(d))
                    else "no")
    finally:
        for client in clients.values():
            client.close()
    return observed


def test_auth_matrix_matches_expected_and_docs(server: ServerProcess,
                                               cast: tuple[dict[str, str | None], dict[str, Person]]) -> None:
    tokens, people = cast
    alice = people["Alice (member)"]
    observed = observe_rest(server, tokens, people, alice) | observe_live(server, tokens, alice)
    observed = {action: observed[action] for action in EXPECTED}
    assert render(observed) == render(EXPECTED)

    table = render(observed)
    text = DOC.read_text()
    if os.environ.get("STAFFPULSE_UPDATE_DOCS"):
        text = re.sub(f"{re.escape(START)}.*?{re.escape(END)}", f"{START}\n{table}\n{END}", text, flags=re.S)
        DOC.write_text(text)
    documented = text.split(START, 1)[1].split(END, 1)[0].strip()
    assert documented == table, "docs/security.md's auth matrix differs from the observed one"


def test_revoked_device_loses_its_open_socket(server: ServerProcess) -> None:
    """Revocation is not only checked at connect: an open socket of a device revoked later is closed."""
    (member,) = make_team(server, roles=("member",)).people
    client = LiveClient(server, member.token, reconnection=False).connect()
    try:
        revoke(server, member.device_id)
        assert client.wait_until(lambda: not client.sio.connected, timeout=5)
        answer = requests.get(server.url + "/api/v1/me", headers=member.headers, timeout=10)
        assert answer.status_code == 401 and answer.json()["error"]["code"] == "revoked"
    finally:
        client.close()


def test_expiry_of_codes_is_enforced(server: ServerProcess) -> None:
    """An expired personal code is refused, so a leaked old code enrolls nothing."""
    (member,) = make_team(server, roles=("member",)).people
    code = issue_code(server, member.login, now=datetime.now(UTC) - timedelta(hours=2), valid_hours=1)
    answer = requests.post(server.url + "/api/v1/enroll", timeout=10, json={
        "code": code, "device_name": "late-pc", "platform": "linux", "agent_version": "test"})
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "code_expired"
