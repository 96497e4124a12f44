"""The caps at their edges, each refusal storing nothing: a batch of exactly ``MAX_SLOTS_PER_BATCH`` minutes is
accepted and one more is refused naming ``slots``; a body over the cap is refused 413 whether it announces its
length or streams without one (chunked), and a refused batch leaves the person's day untouched.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import requests

from protocol.schema import MAX_SLOTS_PER_BATCH
from support.servers import ServerProcess
from support.team import Team, post_batch, slot

MAX_BODY = 512 * 1024


def day_keys(server: ServerProcess, team: Team, day: str) -> int:
    answer = requests.get(f"{server.url}/api/v1/me/days/{day}", headers=team.people[1].headers, timeout=10)
    assert answer.status_code == 200, answer.text
    return int(answer.json()["totals"]["keys"])


def test_batch_cap_edge_and_refusals_store_nothing(server: ServerProcess, team: Team) -> None:
    person = team.people[1]
    # From 04:00 UTC three days back, 1001 minutes end before 21:00 UTC: one local day in Europe/Berlin.
    start = datetime.now(UTC).replace(hour=4, minute=0, second=0, microsecond=0) - timedelta(days=3)
    day = start.date().isoformat()
    full = [slot(start + timedelta(minutes=i), keys=1) for i in range(MAX_SLOTS_PER_BATCH)]
    assert post_batch(server, person, full).json() == {"accepted": MAX_SLOTS_PER_BATCH, "duplicates": 0}
    later = start + timedelta(minutes=MAX_SLOTS_PER_BATCH)
    one_too_many = [slot(later + timedelta(minutes=i), keys=1000) for i in range(MAX_SLOTS_PER_BATCH + 1)]
    refused = post_batch(server, person, one_too_many)
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "slots", refused.text
    assert day_keys(server, team, day) == MAX_SLOTS_PER_BATCH, "the refused batch stored nothing"


def test_oversized_body_is_refused_with_or_without_a_length(server: ServerProcess, team: Team) -> None:
    person = team.people[1]
    start = datetime.now(UTC).replace(hour=4, minute=0, second=0, microsecond=0) - timedelta(days=4)
    padding = [slot(start, keys=7)] * 2  # valid JSON, far over the cap once padded with a long unknown field
    body = json.dumps({"batch_id": str(uuid.uuid4()), "slots": padding, "pad": "x" * (MAX_BODY + 1)}).encode()

    def chunks() -> Iterator[bytes]:
        for offset in range(0, len(body), 65536):
            yield body[offset:offset + 65536]

    headers = person.headers | {"Content-Type": "application/json"}
    with_length = requests.post(server.url + "/api/v1/activity", data=body, headers=headers, timeout=10)
    streamed = requests.post(server.url + "/api/v1/activity", data=chunks(), headers=headers, timeout=10)
    for answer in (with_length, streamed):
        assert (answer.status_code, answer.json()["error"]["code"]) == (413, "too_large"), answer.text
    assert "Content-Length" not in streamed.request.headers
    assert day_keys(server, team, start.date().isoformat()) == 0
