"""The crash-safe outbox: final slots wait here (SQLite, WAL) until the server acknowledges them.

One transaction writes newly closed minutes *and* the tracker checkpoint, so after a kill -9 the restarted
agent resumes exactly where the last commit left it: every closed minute is stored once (the slot start is
the primary key) and none is written again. Uploads take a batch whose id is stored with its slots; until
``acknowledge`` the same batch (same id, same slots) comes back, so a retried upload is a duplicate the server
can recognise. A batch the server refuses for good is set aside with the server's reason: kept for a person to
see, never retried. A *held* minute (idle time the person has not yet called work, a break or nothing:
``agent.returning``) is stored but not offered for upload until ``settle_held``. Unsent data older than the
retention window is dropped with a warning so the file stays bounded. The runner and the uploader use one
outbox from two threads; a lock serialises them.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from agent.paths import private_sqlite_file
from protocol.schema import MAX_SLOTS_PER_BATCH, Slot

log = logging.getLogger(__name__)

FILE_NAME = "outbox.sqlite3"
_PRUNE_EVERY = timedelta(hours=1)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS slot (
    start INTEGER PRIMARY KEY,      -- UTC epoch seconds of the minute
    body TEXT NOT NULL,             -- the Slot as JSON, exactly as it will be sent
    batch_id TEXT,                  -- set when taken for upload
    sent INTEGER NOT NULL DEFAULT 0, -- set when the server acknowledged the batch
    refused TEXT,                   -- the server's reason, when it refused the batch for good
    held INTEGER NOT NULL DEFAULT 0 -- idle minutes waiting for the person's answer (agent.returning): not sent
);
CREATE INDEX IF NOT EXISTS slot_unsent ON slot (sent, batch_id);
CREATE TABLE IF NOT EXISTS checkpoint (
    name TEXT PRIMARY KEY,
    body TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class Batch:
    batch_id: uuid.UUID
    slots: list[Slot]


class Outbox:
    def __init__(
        self,
        directory: Path,
        *,
        retention: timedelta = timedelta(days=30),
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.path = directory / FILE_NAME
        self._retention = retention
        self._now = now
        self._lock = threading.RLock()
        self._db = sqlite3.connect(private_sqlite_file(self.path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a commit is on disk before we call the minute written
        self._db.executescript(_SCHEMA)
        self._add_held_column()
        self._pruned_at = self._now()
        self.prune()

    def close(self) -> None:
        self._db.close()

    def _add_held_column(self) -> None:
        """An outbox written before held minutes existed gets the column in place (its rows are not held)."""
        with self._lock:
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(slot)")}
            if "held" not in columns:
                self._db.execute("ALTER TABLE slot ADD COLUMN held INTEGER NOT NULL DEFAULT 0")

    def commit(self, slots: Iterable[Slot], checkpoint: str, *,
               hold: Callable[[Slot], bool] | None = None) -> None:
        """Store closed minutes and the tracker checkpoint in one transaction; ``hold`` picks minutes to keep
        back until ``settle_held``."""
        with self._transaction():
            self._db.executemany(
                "INSERT INTO slot (start, body, held) VALUES (?, ?, ?) ON CONFLICT (start) DO NOTHING",
                [(int(slot.start.timestamp()), slot.model_dump_json(), hold is not None and hold(slot))
                 for slot in slots],
            )
            self._db.execute(
                "INSERT INTO checkpoint (name, body) VALUES ('tracker', ?)"
                " ON CONFLICT (name) DO UPDATE SET body = excluded.body",
                (checkpoint,),
            )
        if self._now() - self._pruned_at >= _PRUNE_EVERY:
            self.prune()

    def reopen(self, start: int, resume: Callable[[Slot], str]) -> bool:
        """Take the minute ``start`` back out if it was never offered for upload, and store the checkpoint
        ``resume(slot)`` returns in the same transaction (so a kill in between cannot lose the minute). False,
        changing nothing, when the minute is not there or was taken, sent, set aside or held."""
        with self._transaction():
            row = self._db.execute(
                "DELETE FROM slot WHERE start = ? AND batch_id IS NULL AND sent = 0 AND refused IS NULL"
                " AND held = 0 RETURNING body", (start,)).fetchone()
            if row is None:
                return False
            self._db.execute("UPDATE checkpoint SET body = ? WHERE name = 'tracker'",
                             (resume(Slot.model_validate_json(row[0])),))
        return True

    def checkpoint(self) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT body FROM checkpoint WHERE name = 'tracker'").fetchone()
        return None if row is None else str(row[0])

    def pending_count(self) -> int:
        """Minutes still to upload (set-aside ones are not pending: they will not be sent; held ones not yet)."""
        with self._lock:
            row = self._db.execute(
                "SELECT count(*) FROM slot WHERE sent = 0 AND refused IS NULL AND held = 0").fetchone()
        return int(row[0])

    def held_count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM slot WHERE held = 1").fetchone()[0])

    def settle_held(self, rewrite: Callable[[Slot], Slot | None] = lambda slot: slot) -> int:
        """Rewrite every held minute (None deletes it) and release them for upload, in one transaction;
        without ``rewrite`` they go out unchanged. Returns how many minutes were held."""
        with self._transaction():
            rows = self._db.execute("SELECT start, body FROM slot WHERE held = 1").fetchall()
            for start, body in rows:
                slot = rewrite(Slot.model_validate_json(body))
                if slot is None:
                    self._db.execute("DELETE FROM slot WHERE start = ?", (start,))
                else:
                    self._db.execute("UPDATE slot SET body = ?, held = 0 WHERE start = ?",
                                     (slot.model_dump_json(), start))
        return len(rows)

    def take_batch(self, limit: int = MAX_SLOTS_PER_BATCH, *, before: datetime | None = None) -> Batch | None:
        """The batch to upload next: the unacknowledged one if any (same id), else up to ``limit`` oldest slots
        (only those starting ``before``, when given: the server's clock has not reached the later ones).

        Only minutes that have begun by the agent's clock are taken (the one written at a stop is partial, and
        has begun). The timeline never runs backwards, so after the wall clock was stepped forward and then
        back, minutes are stamped ahead of real time for a while; the server would refuse them as "not begun
        yet" and they would be set aside, lost. Kept here, they go out once their time has come.
        """
        latest = int(self._now().timestamp())
        if before is not None:
            latest = min(latest, int(before.timestamp()) - 1)
        with self._transaction():
            row = self._db.execute(
                "SELECT batch_id FROM slot WHERE sent = 0 AND refused IS NULL AND batch_id IS NOT NULL").fetchone()
            if row is None:
                batch_id = str(uuid.uuid4())
                self._db.execute(
                    "UPDATE slot SET batch_id = ? WHERE start IN (SELECT start FROM slot"
                    " WHERE sent = 0 AND batch_id IS NULL AND held = 0 AND start <= ?"
                    " ORDER BY start LIMIT ?)",
                    (batch_id, latest, min(limit, MAX_SLOTS_PER_BATCH)),
                )
            else:
                batch_id = row[0]
            bodies = self._db.execute(
                "SELECT body FROM slot WHERE batch_id = ? AND sent = 0 ORDER BY start", (batch_id,)
            ).fetchall()
        if not bodies:
            return None
        return Batch(uuid.UUID(batch_id), [Slot.model_validate_json(body) for (body,) in bodies])

    def peek(self, limit: int = MAX_SLOTS_PER_BATCH) -> list[Slot]:
        """The slots the next upload will send, read-only (no batch is formed): for showing what leaves the
        machine. The unacknowledged batch if there is one, else up to ``limit`` oldest unsent slots."""
        with self._lock:
            rows = self._db.execute(
                "SELECT body FROM slot WHERE sent = 0 AND refused IS NULL AND batch_id ="
                " (SELECT batch_id FROM slot WHERE sent = 0 AND refused IS NULL AND batch_id IS NOT NULL LIMIT 1)"
                " ORDER BY start LIMIT ?", (limit,)).fetchall()
            if not rows:
                rows = self._db.execute(
                    "SELECT body FROM slot WHERE sent = 0 AND refused IS NULL AND batch_id IS NULL AND held = 0"
                    " ORDER BY start LIMIT ?", (min(limit, MAX_SLOTS_PER_BATCH),)).fetchall()
        return [Slot.model_validate_json(body) for (body,) in rows]

    def acknowledge(self, batch_id: uuid.UUID) -> None:
        with self._transaction():
            self._db.execute("UPDATE slot SET sent = 1 WHERE batch_id = ?", (str(batch_id),))

    def set_aside(self, batch_id: uuid.UUID, reason: str) -> None:
        """The server refused this batch for good: keep it with the reason, and never offer it again."""
        with self._transaction():
            self._db.execute("UPDATE slot SET refused = ? WHERE batch_id = ? AND sent = 0", (reason, str(batch_id)))

    def set_aside_span(self, batch_id: uuid.UUID, reason: str, *, last: datetime, first: datetime | None = None
                       ) -> int:
        """The server refused some minutes of this batch for good but would take the others: set aside every
        unsent minute from ``first`` (or the oldest) through ``last``, wherever it waits, and ``release`` the
        batch so its other minutes go in a new one. Returns how many minutes were set aside."""
        low = -(2**62) if first is None else int(first.timestamp())
        with self._transaction():
            count = self._db.execute(
                "UPDATE slot SET refused = ? WHERE sent = 0 AND refused IS NULL AND start BETWEEN ? AND ?",
                (reason, low, int(last.timestamp()))).rowcount
        self.release(batch_id)
        return int(count)

    def release(self, batch_id: uuid.UUID) -> None:
        """Forget the id of a batch the server refused whole (so stored nothing of): its minutes are taken again,
        in a new batch, by the next ``take_batch``."""
        with self._transaction():
            self._db.execute("UPDATE slot SET batch_id = NULL WHERE batch_id = ? AND sent = 0 AND refused IS NULL",
                             (str(batch_id),))

    def set_aside_reasons(self) -> dict[str, int]:
        """Each distinct refusal reason with how many minutes it holds back, for the status display."""
        with self._lock:
            rows = self._db.execute("SELECT refused, count(*) FROM slot WHERE refused IS NOT NULL GROUP BY refused")
            return {str(reason): int(count) for reason, count in rows}

    def prune(self) -> None:
        """Drop slots older than the retention window; unsent ones are lost, so say so."""
        self._pruned_at = self._now()
        cutoff = int((self._pruned_at - self._retention).timestamp())
        with self._transaction():
            self._db.execute("DELETE FROM slot WHERE start < ? AND sent = 1", (cutoff,))
            self._db.execute("DELETE FROM slot WHERE start < ? AND refused IS NOT NULL", (cutoff,))
            dropped = self._db.execute(
                "DELETE FROM slot WHERE start < ? AND sent = 0 AND batch_id IS NULL", (cutoff,)
            ).rowcount
        if dropped:
            log.warning(
                "dropped %d unsent minutes older than the %d-day retention window", dropped, self._retention.days
            )

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db, self._lock)


class _Transaction:
    """Under the lock, BEGIN IMMEDIATE ... COMMIT, rolled back on error (sqlite3's own context manager does not
    BEGIN)."""

    def __init__(self, db: sqlite3.Connection, lock: threading.RLock) -> None:
        self._db, self._lock = db, lock

    def __enter__(self) -> None:
        self._lock.acquire()
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._lock.release()
            raise

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        try:
            self._db.execute("COMMIT" if kind is None else "ROLLBACK")
        finally:
            self._lock.release()
