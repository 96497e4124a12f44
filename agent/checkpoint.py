"""The tracker checkpoint as the outbox stores it: JSON with named fields and a version number.

Open minutes are stored by field name (``Slot``'s names), so reordering or adding a tally field can never move a
value into another on restore. ``VERSION`` goes up whenever a field is added, removed or changes meaning;
``decode`` reads this version, migrates the older ones it knows, and raises ``CheckpointUnreadable`` for
anything else (a newer agent's checkpoint after a downgrade, a damaged one): the runner then starts afresh
with a log line. A checkpoint is never misread.

=======  ===========================================================================================
version  format
=======  ===========================================================================================
1        no ``version`` key; each open minute a list in the order of ``V1_TALLY``
2        ``version``; each open minute an object keyed by ``Slot`` field names; ``stopped``: the second
         a clean stop happened at (``Tracker.shutdown``), or null
=======  ===========================================================================================
"""

from __future__ import annotations

import json
import logging
from typing import Any

from agent.errors import CheckpointUnreadable

log = logging.getLogger(__name__)

VERSION = 2
#: Version 1's positional order of an open minute's values, frozen here: it must not follow ``_Tally``.
V1_TALLY = ("active_s", "idle_s", "break_s", "input_s", "keys", "clicks", "scrolls", "mouse_px")
FIELDS = frozenset({"cursor", "decided", "mark", "state", "seq", "stopped", "open"})


def encode(fields: dict[str, Any]) -> str:
    """The checkpoint text for the tracker's ``fields`` (exactly ``FIELDS``)."""
    if set(fields) != FIELDS:  # a programming error: the format and the tracker disagree
        raise ValueError(f"checkpoint fields {sorted(fields)}, not {sorted(FIELDS)}")
    return json.dumps({"version": VERSION, **fields})


def decode(text: str) -> dict[str, Any]:
    """The fields of a checkpoint of this version or a known older one (migrated, with a log line)."""
    try:
        data: dict[str, Any] = json.loads(text)
    except ValueError as error:
        raise CheckpointUnreadable(f"not JSON ({error})") from None
    if not isinstance(data, dict):
        raise CheckpointUnreadable(f"a JSON {type(data).__name__}, not an object")
    version = data.pop("version", 1)
    if version == 1:
        data = _from_version_1(data)
        log.info("migrated a version 1 tracker checkpoint (open minutes as lists) to version %d", VERSION)
    elif version != VERSION:
        raise CheckpointUnreadable(f"version {version!r}; this agent reads versions 1 to {VERSION}")
    if set(data) != FIELDS:
        raise CheckpointUnreadable(f"the fields {sorted(data)}, not {sorted(FIELDS)}")
    if not isinstance(data["open"], dict) or not all(isinstance(v, dict) for v in data["open"].values()):
        raise CheckpointUnreadable("open minutes that are not objects")
    return data


def _from_version_1(data: dict[str, Any]) -> dict[str, Any]:
    minutes = data.get("open")
    if not isinstance(minutes, dict) or not all(
            isinstance(values, list) and len(values) == len(V1_TALLY) for values in minutes.values()):
        raise CheckpointUnreadable(f"version 1 open minutes that are not lists of {len(V1_TALLY)} numbers")
    opened = {start: dict(zip(V1_TALLY, values, strict=True)) for start, values in minutes.items()}
    return {**data, "open": opened, "stopped": None}
