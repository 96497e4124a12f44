"""The tracker checkpoint: open minutes by field name, a version, old versions migrated, unknown ones refused."""

from __future__ import annotations

import importlib
import inspect
import json
import logging
import pkgutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

import agent
from agent import checkpoint
from agent.errors import AgentError, CheckpointUnreadable
from agent.outbox import Outbox
from agent.runner import Runner
from agent.slots import InputCounts
from agent.states import Tracker
from protocol.schema import Slot

MINUTE = 1_777_888_800  # 2026-05-04T10:00:00Z
#: One open minute with a different value in every field, so a value read into the wrong field shows.
VALUES = {"active_s": 20, "idle_s": 6, "break_s": 4, "input_s": 12, "keys": 40, "clicks": 3, "scrolls": 2,
          "mouse_px": 700}


def saved(version: int | None, minute: object) -> str:
    fields = {"cursor": MINUTE + 30, "decided": MINUTE + 30, "mark": MINUTE + 30, "state": "active", "seq": 3,
              "open": {str(MINUTE): minute}}
    if version is not None:
        fields |= {"version": version, "stopped": None}
    return json.dumps(fields)


def written_minute(text: str) -> Slot:
    """The open minute as the restored tracker writes it at a stop."""
    (slot,) = Tracker.restore(text, idle_threshold=300).shutdown().slots
    return slot


def test_open_minutes_are_stored_by_field_name_with_the_version() -> None:
    data = json.loads(saved(checkpoint.VERSION, VALUES))
    assert data["version"] == checkpoint.VERSION
    tracker = Tracker.restore(json.dumps(data), idle_threshold=300)
    again = json.loads(tracker.checkpoint())
    assert again == data
    assert again["open"][str(MINUTE)] == VALUES


def test_a_version_1_checkpoint_is_migrated_value_by_value(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    slot = written_minute(saved(None, [VALUES[name] for name in checkpoint.V1_TALLY]))
    assert {name: getattr(slot, name) for name in VALUES} == VALUES
    assert slot.tracked_s == 30
    assert "migrated a version 1 tracker checkpoint" in caplog.text


@pytest.mark.parametrize(("text", "why"), [
    (saved(checkpoint.VERSION + 1, VALUES), "version 3"),
    (saved(checkpoint.VERSION, VALUES | {"spare": 1}), "an open minute has the fields"),
    (saved(checkpoint.VERSION, {k: v for k, v in VALUES.items() if k != "keys"}), "an open minute has the fields"),
    (saved(checkpoint.VERSION, list(VALUES.values())), "open minutes that are not objects"),
    (saved(None, list(VALUES.values())[:5]), "version 1 open minutes"),
    ('{"not": "a tracker"}', "version 1 open minutes"),
    ('{"version": 2}', "the fields"),
    ("[1, 2]", "not an object"),
    ("{", "not JSON"),
])
def test_an_unknown_version_or_a_malformed_checkpoint_is_refused_never_misread(text: str, why: str) -> None:
    with pytest.raises(CheckpointUnreadable, match=why):
        Tracker.restore(text, idle_threshold=300)


def test_the_runner_starts_afresh_from_a_refused_checkpoint_and_says_why(tmp_path: Path,
                                                                         caplog: pytest.LogCaptureFixture) -> None:
    box = Outbox(tmp_path)
    box.commit([], saved(checkpoint.VERSION + 1, VALUES))
    box.close()
    Runner(outbox=Outbox(tmp_path), clock=_Clock(), counts=InputCounts, idle=_Idle())
    assert "ignoring an unreadable tracker checkpoint (version 3; this agent reads versions 1 to 2)" in caplog.text


def test_every_exception_the_agent_defines_is_in_its_one_tree() -> None:
    modules = [importlib.import_module(m.name) for m in pkgutil.walk_packages(agent.__path__, "agent.")
               if not m.name.endswith("__main__")]
    defined = {cls for module in modules for _, cls in inspect.getmembers(module, inspect.isclass)
               if issubclass(cls, BaseException) and cls.__module__.startswith("agent.")}
    assert {cls.__name__ for cls in defined} >= {"PolicyUnreadable", "CheckpointUnreadable", "IdleUnavailable"}
    assert [cls.__name__ for cls in defined if not issubclass(cls, AgentError)] == []


class _Clock:
    def now(self) -> datetime:
        return datetime.fromtimestamp(MINUTE + 40, UTC)

    def monotonic(self) -> float:
        return 100.0


class _Idle:
    def idle_seconds(self) -> float:
        return 0.0

    def locked(self) -> bool:
        return False
