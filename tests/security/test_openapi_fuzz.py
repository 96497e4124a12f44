"""Bad input from the server's own OpenAPI description: schemathesis generates requests for every operation,
valid-shaped (positive) and schema-violating (negative), with a device token and without, against a real
server process. Every answer must be documented: no 5xx, a documented status code and content type, the
documented body (so every refusal has the protocol's ``{"error": {code, message, field?}}`` shape), and no
schema-violating request accepted. Afterwards the database must hold exactly what the accepted (2xx)
requests stored: refused requests store nothing.

The default run makes ``STAFFPULSE_FUZZ_REQUESTS`` (default 3000) requests; the full proof is
``STAFFPULSE_FUZZ_REQUESTS=10000 STAFFPULSE_FUZZ_RANDOM=1 pytest tests/security/test_openapi_fuzz.py``
(see docs/security.md); the default run is derandomized.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import random
import socket
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import func, select

from server.migrate import run_in_session
from server.models import ActivitySlot, Batch, Device, DevicePresence, User
from server.models import Team as TeamRow
from support.servers import ServerProcess
from support.team import Person, Team
from tests.security.conftest import security_server

FUZZ_REQUESTS = int(os.environ.get("STAFFPULSE_FUZZ_REQUESTS", "3000"))
#: The default run is the same every time, so CI passes or fails on the code, not on luck;
#: STAFFPULSE_FUZZ_RANDOM=1 explores new inputs (a finding then becomes a regression test here).
EXPLORE = bool(os.environ.get("STAFFPULSE_FUZZ_RANDOM"))

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance, negative_data_rejection]

#: Operations a caller without a valid device token may succeed on.
OPEN = {"POST /api/v1/enroll", "GET /healthz"}


@dataclasses.dataclass
class Ledger:
    """What the accepted requests stored, to compare with the database afterwards."""

    statuses: Counter[tuple[str, int]] = dataclasses.field(default_factory=Counter)
    requests: int = 0
    accepted_slots: int = 0
    accepted_batches: set[str] = dataclasses.field(default_factory=set)
    #: every slot content an accepted batch carried, by minute
    offered: dict[datetime, set[str]] = dataclasses.field(default_factory=dict)
    presence: tuple[int, datetime] | None = None  # (seq, since) of the newest applied update
    enrolled: int = 0
    server_errors: list[str] = dataclasses.field(default_factory=list)


def assert_error_shape(response: requests.Response | schemathesis.Response) -> None:
    """Every refusal, documented or not (404, 405), is ``{"error": {code, message, field?}}`` and nothing else."""
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert {"code", "message"} <= set(error) <= {"code", "message", "field"}, body
    assert all(isinstance(value, str) and value for value in error.values()), body


def slot_key(slot: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in slot.items() if k != "start"}, sort_keys=True)


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def repair(body: Any, rnd: random.Random, how: str, used_batches: list[str]) -> None:
    """Make a generated batch likely to be accepted (``window``: minutes inside the ingest window; ``full``:
    consistent seconds too), so accepted and refused requests mix; now and then reuse an accepted batch id."""
    if not isinstance(body, dict) or not isinstance(body.get("slots"), list) or how == "none":
        return
    base = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=10)
    minutes = rnd.sample(range(300), k=min(len(body["slots"]), 300))  # a small pool: later batches overlap
    for slot, ago in zip(body["slots"], minutes, strict=False):
        if not isinstance(slot, dict):
            continue
        slot["start"] = (base - timedelta(minutes=ago)).isoformat().replace("+00:00", "Z")
        if how == "full":
            # JSON Schema's integer admits 31.0, the protocol refuses it (strict integers): make them ints
            slot.update({k: int(v) for k, v in slot.items() if isinstance(v, float) and v.is_integer()})
        if how == "full" and all(type(slot.get(k)) is int for k in ("active_s", "idle_s", "break_s", "input_s")):
            slot["active_s"] = active = slot["active_s"] % 61
            slot["idle_s"] = idle = min(slot["idle_s"], 60 - active)
            slot["break_s"] = brk = min(slot["break_s"], 60 - active - idle)
            slot["tracked_s"] = active + idle + brk
            slot["input_s"] = min(slot["input_s"], active)
    # Generated ids repeat a lot (the same id with other slots is a 409): a fresh one, or now and then a reused one
    body["batch_id"] = (rnd.choice(used_batches) if used_batches and rnd.random() < 0.1
                        else str(uuid.UUID(int=rnd.getrandbits(128), version=4)))


def record(ledger: Ledger, label: str, body: Any, response: schemathesis.Response, authorised: bool) -> None:
    ledger.requests += 1
    ledger.statuses[(label, response.status_code)] += 1
    if not 200 <= response.status_code < 300:
        assert_error_shape(response)
        return
    assert authorised or label in OPEN, f"{label} answered {response.status_code} without a valid token"
    answer = response.json()
    if label == "POST /api/v1/activity":
        ledger.accepted_slots += answer["accepted"]
        ledger.accepted_batches.add(body["batch_id"])
        for slot in body["slots"]:
            ledger.offered.setdefault(parse_time(slot["start"]), set()).add(slot_key(slot))
    elif label == "PUT /api/v1/presence" and answer["applied"]:
        ledger.presence = (body["seq"], parse_time(answer["since"]))
    elif label == "POST /api/v1/enroll":
        ledger.enrolled += 1


def fuzz(schema: Any, label: str, mode: GenerationMode, headers: dict[str, str], examples: int,
         ledger: Ledger, session: requests.Session) -> None:
    operation = schema[label.split()[1]][label.split()[0]]
    used_batches = sorted(ledger.accepted_batches)
    authorised = bool(headers)

    @settings(max_examples=examples, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck), derandomize=not EXPLORE)
    @given(case=operation.as_strategy(generation_mode=mode), how=st.sampled_from(["none", "window", "full"]),
           rnd=st.randoms(use_true_random=False))
    def run(case: Any, how: str, rnd: random.Random) -> None:
        if label == "POST /api/v1/activity" and mode is GenerationMode.POSITIVE:
            repair(case.body, rnd, how, used_batches)
        response = case.call(session=session, headers=headers, timeout=30)
        if response.status_code >= 500:
            ledger.server_errors.append(f"{response.status_code} from {case.as_curl_command(headers)}")
            raise AssertionError(ledger.server_errors[-1])
        record(ledger, label, case.body, response, authorised)
        case.validate_response(response, checks=CHECKS, headers=headers)
        if 200 <= response.status_code < 300 and label == "POST /api/v1/activity":
            used_batches.append(case.body["batch_id"])

    run()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The security suite's server, describing itself at /openapi.json (``serve --openapi``; off by default)."""
    with security_server(tmp_path_factory, "fuzz-server", "--openapi") as process:
        yield process


def count(server: ServerProcess, query: Callable[[], Any]) -> Any:
    async def work(session: Any, _now: datetime) -> Any:
        return (await session.execute(query())).all()

    return asyncio.run(run_in_session(server.database_url, work))


@pytest.mark.timeout(max(300, FUZZ_REQUESTS // 20))
def test_generated_requests_get_documented_answers_and_refused_ones_store_nothing(
        server: ServerProcess, team: Team) -> None:
    person: Person = team.by_role("member")[0]
    schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
    labels = sorted(f"{op.method.upper()} {op.path}" for op in (r.ok() for r in schema.get_all_operations()))
    assert labels == ["GET /api/v1/me", "GET /api/v1/me/days/{day}", "GET /api/v1/team", "GET /api/v1/team/days",
                      "GET /api/v1/team/days/{day}", "GET /api/v1/team/members/{user_id}/days",
                      "GET /api/v1/team/members/{user_id}/days/{day}", "GET /healthz",
                      "POST /api/v1/activity", "POST /api/v1/enroll", "PUT /api/v1/presence"]
    # Operations without inputs have one request to make; the budget goes to those that take input.
    weights = {"POST /api/v1/activity": 4, "PUT /api/v1/presence": 2, "POST /api/v1/enroll": 2,
               "GET /api/v1/me/days/{day}": 1, "GET /api/v1/team/days": 1, "GET /api/v1/team/days/{day}": 1,
               "GET /api/v1/team/members/{user_id}/days": 1, "GET /api/v1/team/members/{user_id}/days/{day}": 1}
    share = FUZZ_REQUESTS / (sum(weights.values()) * 4)
    ledger = Ledger()
    started = time.monotonic()
    with requests.Session() as session:
        for label in labels:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                for headers in (person.headers, {}):
                    examples = max(5, round(share * weights.get(label, 0)))
                    if label in weights or mode is GenerationMode.POSITIVE:
                        fuzz(schema, label, mode, headers, examples, ledger, session)
    elapsed = time.monotonic() - started
    summary = (f"{ledger.requests} requests in {elapsed:.1f} s, {len(ledger.server_errors)} server errors; "
               f"{ledger.accepted_slots} slots in {len(ledger.accepted_batches)} batches accepted; statuses "
               + ", ".join(f"{label} {status}: {n}" for (label, status), n in sorted(ledger.statuses.items())))
    print(summary)
    assert not ledger.server_errors, summary
    assert ledger.requests >= 0.9 * FUZZ_REQUESTS, summary

    # Nothing stored from refused requests: the database holds exactly what the 2xx answers reported.
    device = person.device_id
    slots = count(server, lambda: select(ActivitySlot).where(ActivitySlot.device_id == device))
    assert len(slots) == ledger.accepted_slots, summary
    for (row,) in slots:
        stored = {k: getattr(row, k) for k in ("tracked_s", "active_s", "idle_s", "break_s", "input_s", "keys",
                                               "clicks", "scrolls", "mouse_px")}
        assert json.dumps(stored, sort_keys=True) in ledger.offered[row.start]
    batches = count(server, lambda: select(Batch.batch_id).where(Batch.device_id == device))
    assert {b for (b,) in batches} == ledger.accepted_batches
    others = count(server, lambda: select(func.count()).select_from(ActivitySlot).join(User)
                   .join(TeamRow, TeamRow.id == User.team_id)
                   .where(TeamRow.name == team.name, ActivitySlot.device_id != device))
    assert others == [(0,)]
    presence = count(server, lambda: select(DevicePresence.seq, DevicePresence.since)
                     .where(DevicePresence.device_id == device))
    assert presence == ([ledger.presence] if ledger.presence else [])
    devices = count(server, lambda: select(func.count()).select_from(Device).join(User)
                    .join(TeamRow, TeamRow.id == User.team_id).where(TeamRow.name == team.name))
    assert devices == [(len(team.people) + ledger.enrolled,)]
    assert ledger.enrolled == 0  # generated codes and keys never match a real secret
    assert ledger.accepted_slots > 0, "no generated batch was accepted: the comparison proves nothing"


@pytest.mark.parametrize("path", ["/api/v1/nope", "/api/v1/me/days/2026-01-01/x"])
def test_unknown_paths_and_methods_are_refused_in_the_error_shape(server: ServerProcess, path: str) -> None:
    answer = requests.get(server.url + path, timeout=10)
    assert answer.status_code == 404
    assert_error_shape(answer)
    answer = requests.delete(server.url + "/api/v1/me", timeout=10)
    assert answer.status_code == 405 and answer.headers["Allow"] == "GET"
    assert_error_shape(answer)


@pytest.mark.parametrize(("method", "path", "body", "field"), [
    ("PUT", "/api/v1/presence", {"state": "idle", "since": "2026-01-01T00:00:00Z", "seq": 2**63}, "seq"),
    ("PUT", "/api/v1/presence", {"state": "idle", "since": "9999-12-31T23:00:00-05:00", "seq": 1}, "since"),
    ("PUT", "/api/v1/presence", {"state": "idle", "since": "0001-01-01T00:00:00+05:00", "seq": 1}, "since"),
    ("POST", "/api/v1/activity", {"batch_id": str(uuid.uuid4()), "slots": [{
        "start": "9999-12-31T23:59:00Z", "tracked_s": 0, "active_s": 0, "idle_s": 0, "break_s": 0, "input_s": 0,
        "keys": 0, "clicks": 0, "scrolls": 0, "mouse_px": 0}]}, "slots[0].start"),
    ("GET", "/api/v1/me/days/0", None, "path.day"),
    ("GET", "/api/v1/me/days/9999-12-31", None, "path.day"),
    ("GET", "/api/v1/me/days/0001-01-01", None, "path.day"),
    ("GET", f"/api/v1/team/members/{2**63}/days/2026-01-01", None, "path.user_id"),
    ("GET", "/api/v1/team/members/0/days?start=2026-01-01&end=2026-01-01", None, "path.user_id"),
])
def test_values_that_were_server_errors_are_refused(server: ServerProcess, team: Team, method: str, path: str,
                                                    body: Any, field: str) -> None:
    """Found by the generated run: each of these was a 500 (or, for ``/me/days/0``, a 200 for 1970-01-01)."""
    answer = requests.request(method, server.url + path, json=body, headers=team.people[1].headers, timeout=10)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == field


def test_the_listening_socket_is_tcp_so_answers_are_not_delayed() -> None:
    """A socket made with protocol 0 gets no TCP_NODELAY from asyncio: every answer then waited ~40 ms."""
    from server.cli import _listen

    with _listen("127.0.0.1", 0) as sock:
        assert sock.proto == socket.IPPROTO_TCP
