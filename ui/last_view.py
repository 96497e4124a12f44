"""The last team view the window showed (``last_view.json`` next to ``ui.json``), so a start with the server
down shows the team as last known, marked "as of", instead of nothing.

It holds what this person was sent and nothing more: the team's states, their own day and, for a manager, the
team's totals and today's strips (``TeamDay``). A member's file holds no one else's numbers because the server
never sent them any. Written off the GUI thread (``ui.worker``) after the view changes, atomically
(``agent.atomic``, 0600); a missing, unreadable or older-format file is simply no last view.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from agent.atomic import write_atomically
from protocol.schema import Slot, TeamDay, TeamMember, TeamPublic, Totals
from sync.live import TeamSnapshot

log = logging.getLogger(__name__)

FILE_NAME = "last_view.json"
FORMAT = 1


@dataclass(frozen=True)
class LastView:
    snapshot: TeamSnapshot
    team_day: TeamDay | None  # a manager's last read of the team's day; None for members
    user_id: int | None = None  # the reader, so their own row and strip are theirs before ``/me`` answers


def dumps(view: LastView) -> str:
    snapshot = view.snapshot
    return json.dumps({
        "format": FORMAT,
        "team": snapshot.team.model_dump(mode="json"),
        "members": [member.model_dump(mode="json") for member in snapshot.members],
        "own_date": snapshot.own_date.isoformat(),
        "own_totals": snapshot.own_totals.model_dump(mode="json"),
        "own_slots": [slot.model_dump(mode="json") for slot in snapshot.own_slots],
        "time_zone": snapshot.time_zone,
        "updated": snapshot.updated.isoformat(),
        "team_day": view.team_day.model_dump(mode="json") if view.team_day is not None else None,
        "user_id": view.user_id,
    })


def loads(text: str) -> LastView | None:
    raw = json.loads(text)
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        return None
    snapshot = TeamSnapshot(
        team=TeamPublic.model_validate(raw["team"]),
        members=tuple(TeamMember.model_validate(member) for member in raw["members"]),
        own_date=date.fromisoformat(raw["own_date"]), own_totals=Totals.model_validate(raw["own_totals"]),
        own_slots=tuple(Slot.model_validate(slot) for slot in raw["own_slots"]), time_zone=str(raw["time_zone"]),
        updated=datetime.fromisoformat(raw["updated"]))
    team_day = TeamDay.model_validate(raw["team_day"]) if raw.get("team_day") is not None else None
    user_id = raw.get("user_id")
    return LastView(snapshot, team_day, user_id if isinstance(user_id, int) else None)


def save(data_dir: Path, view: LastView) -> None:
    write_atomically(data_dir / FILE_NAME, dumps(view))


def load(data_dir: Path) -> LastView | None:
    path = data_dir / FILE_NAME
    try:
        return loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:  # pydantic's ValidationError is a ValueError
        log.warning("ignoring unreadable %s (%s)", path, exc)
        return None


def delete(data_dir: Path) -> None:
    """The device was refused (revoked) or another user reads: the view is no longer this reader's to show."""
    (data_dir / FILE_NAME).unlink(missing_ok=True)
