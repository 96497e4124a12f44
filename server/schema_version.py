"""Whether a database already holds the newest schema, found without importing Alembic.

Every admin command brings the schema up to date first (``server.migrate.run_in_session``). Importing Alembic
costs about as much as the rest of a command together (it loads every dialect's DDL on import), and on all but
the first command after an upgrade it would find nothing to do. So the command first compares the database's
``alembic_version`` with the head of ``server/migrations/versions`` and runs Alembic only when they differ: a
new database, an older schema, or anything this module cannot read for certain (then Alembic decides, and
reports, as before).

The head is read as Alembic reads it: each revision file's ``revision`` and ``down_revision``, the head being the
one revision no other revises. A file whose values are not plain literals, or a tree with more than one head,
gives no head, and Alembic runs. tests/server/test_schema_version.py checks the answer against Alembic's own.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from sqlalchemy import Connection, inspect, text

MIGRATIONS = Path(__file__).with_name("migrations")

#: The files Alembic takes as revisions (``alembic.script.base.Script._only_source_rev_file``).
_REVISION_FILE = re.compile(r"(?!\.\#|__init__)(.*\.py)$")


def script_head(versions: Path = MIGRATIONS / "versions") -> str | None:
    """The one head revision of the migration scripts, or ``None`` when it cannot be told for certain."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in versions.iterdir():
        if not _REVISION_FILE.match(path.name):
            continue
        values = _literal_assignments(path, {"revision", "down_revision"})
        revision, down = values.get("revision"), values.get("down_revision")
        if not isinstance(revision, str):
            return None
        revisions.add(revision)
        if isinstance(down, str):
            revised.add(down)
        elif isinstance(down, tuple | list) and all(isinstance(d, str) for d in down):
            revised.update(down)
        elif down is not None:
            return None
    heads = revisions - revised
    return heads.pop() if len(heads) == 1 else None


def _literal_assignments(path: Path, names: set[str]) -> dict[str, object]:
    """The module-level ``name = <literal>`` assignments of ``names`` in a Python file (annotated ones too)."""
    found: dict[str, object] = {}
    for node in ast.parse(path.read_bytes(), str(path)).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id in names:
            try:
                found[target.id] = ast.literal_eval(value)
            except ValueError:
                found[target.id] = ...  # not a literal: neither a string nor None, so the caller gives up
    return found


def database_revisions(connection: Connection) -> set[str]:
    """The revisions in the database's ``alembic_version`` table: empty for a database never migrated."""
    if not inspect(connection).has_table("alembic_version"):
        return set()
    return {row[0] for row in connection.execute(text("SELECT version_num FROM alembic_version"))}


def is_current(connection: Connection) -> bool:
    """The database is at the scripts' one head: an upgrade to ``head`` would do nothing."""
    head = script_head()
    return head is not None and database_revisions(connection) == {head}
