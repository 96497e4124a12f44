"""Opening the outbox when it may be damaged: a corrupt file is moved aside and a fresh one started.

A disk error, a full disk at the wrong moment or a user's copy tool can leave ``outbox.sqlite3`` unreadable.
Refusing to start would stop all tracking over a file the person cannot repair, and deleting it would destroy
minutes someone might still rescue. So the damaged file (with its ``-wal``/``-shm`` companions, renamed
alike so SQLite can still open the copy) is kept beside a fresh outbox, and the agent says so: an error in
the log naming both files, and a notice the front ends show (``Sampler.notice``, ``staffpulse status``, the
tray). Minutes that were only in the damaged file are not uploaded.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from agent.outbox import FILE_NAME, Outbox

log = logging.getLogger(__name__)

COMPANIONS = ("", "-wal", "-shm")  # SQLite's own suffixes: the database, its write-ahead log, its index
SET_ASIDE_PREFIX = "outbox-corrupt-"


def problem(directory: Path) -> str | None:
    """Why the outbox in ``directory`` cannot be used, or None when it is sound (or does not exist yet)."""
    path = directory / FILE_NAME
    if not path.exists():
        return None
    try:
        # immutable: read the file as it is, without locks or the WAL, so checking never changes anything
        # (opening normally could replay or delete a -wal that belongs to the damaged file).
        db = sqlite3.connect(f"{path.as_uri()}?immutable=1", uri=True)
        try:
            rows = [str(row[0]) for row in db.execute("PRAGMA quick_check").fetchall()]
        finally:
            db.close()
    except sqlite3.DatabaseError as error:  # "file is not a database", "database disk image is malformed"
        return str(error)
    return None if rows == ["ok"] else "; ".join(rows[:3])


def set_aside(directory: Path, now: datetime) -> Path:
    """Rename the outbox and its companions to ``outbox-corrupt-<UTC time>.sqlite3[-wal|-shm]``."""
    target = directory / f"{SET_ASIDE_PREFIX}{now.strftime('%Y%m%dT%H%M%SZ')}.sqlite3"
    for suffix in COMPANIONS:
        source = directory / (FILE_NAME + suffix)
        if source.exists():
            source.rename(target.with_name(target.name + suffix))
    return target


def open_outbox(directory: Path, *, now: Callable[[], datetime],
                wall: Callable[[], datetime] = lambda: datetime.now(UTC)) -> tuple[Outbox, str | None]:
    """The outbox, and a notice for the person when a damaged one had to be moved aside (else None).
    ``now`` is the agent's clock (sped up in tests); ``wall`` names the set-aside file in the person's time."""
    why = problem(directory)
    if why is None:
        try:
            return Outbox(directory, now=now), None
        except sqlite3.DatabaseError as error:  # damage quick_check cannot see, e.g. in the schema
            why = str(error)
    moved = set_aside(directory, wall())
    log.error("the outbox %s is damaged (%s): moved aside to %s; started a fresh one. Minutes not yet sent "
              "from it will not be uploaded", directory / FILE_NAME, why, moved)
    notice = (f"The activity store {directory / FILE_NAME} was damaged ({why}) and was moved aside to {moved}; "
              "a fresh one was started. Minutes not yet sent from it will not be uploaded.")
    return Outbox(directory, now=now), notice
