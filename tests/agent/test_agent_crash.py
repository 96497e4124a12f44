"""kill -9 at random points while minutes are being written: after each restart every minute already written
is still there, unchanged and once, and the open minutes the checkpoint held are completed, not lost.

The agent runs 60 times faster than real time (hidden ``--time-scale``) so each run writes minutes about once
a second; no display is needed, which also covers "input counting unavailable, agent keeps running".
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import time
from pathlib import Path

from agent_harness import read_slots, start_agent, written

from protocol.schema import Slot

RUNS = 20


def snapshot(data: Path) -> tuple[dict[int, str], dict[int, dict[str, int]]]:
    """Written slots and the checkpoint's open minutes, read in one transaction."""
    with sqlite3.connect(data / "outbox.sqlite3") as db:
        db.execute("BEGIN")
        slots = dict(db.execute("SELECT start, body FROM slot").fetchall())
        row = db.execute("SELECT body FROM checkpoint WHERE name = 'tracker'").fetchone()
        db.execute("COMMIT")
    open_minutes = {int(k): v for k, v in json.loads(row[0])["open"].items()} if row else {}
    return slots, open_minutes


def test_every_written_minute_survives_kill_9_exactly_once(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    rng = random.Random(1234)
    args = ("--time-scale", "60", "--idle-threshold", "20")
    seen: dict[int, str] = {}
    open_tracked: dict[int, int] = {}
    for _ in range(RUNS):
        before = written(tmp_path / "data")
        agent = start_agent(tmp_path, env, *args)
        agent.wait_for(lambda data=agent.data, before=before: written(data) > before, "write a minute of its own")
        time.sleep(rng.uniform(0.0, 0.6))  # then the kill lands at a random point
        slots, open_minutes = snapshot(agent.data)
        agent.kill()
        assert not set(slots) & set(open_minutes), "a minute is both written and still open"
        after = read_slots(agent.data)
        for start, body in seen.items():
            assert after.get(start) == body, "a written minute changed or vanished"
        seen.update(slots)
        for start, tally in open_minutes.items():
            tracked = tally["active_s"] + tally["idle_s"] + tally["break_s"]
            open_tracked[start] = max(open_tracked.get(start, 0), tracked)

    before = written(agent.data)
    agent = start_agent(tmp_path, env, *args)
    agent.wait_for(lambda: written(agent.data) > before, "write a minute of its own")
    agent.stop()
    final = read_slots(agent.data)
    for start, body in seen.items():
        assert final[start] == body
    minutes = {start: Slot.model_validate_json(body) for start, body in final.items()}
    assert all(int(slot.start.timestamp()) == start for start, slot in minutes.items())
    for start, tracked in open_tracked.items():
        assert start in minutes, "an open minute from a checkpoint was lost"
        assert minutes[start].tracked_s >= tracked
    assert len(minutes) >= RUNS  # each run wrote at least one minute before it was killed
    assert "input counting unavailable" in agent.log_text()
