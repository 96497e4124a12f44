"""``server.schema_version`` answers as Alembic would, so admin commands that skip Alembic skip only no-op upgrades."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from server.db import make_engine
from server.migrate import alembic_config, run_in_session
from server.schema_version import MIGRATIONS, database_revisions, is_current, script_head
from support.servers import PostgresCluster


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh.db'}"
    cluster: PostgresCluster = request.getfixturevalue("postgres")
    return cluster.create_database(f"t_{uuid.uuid4().hex[:12]}")


def test_the_head_is_alembics_head() -> None:
    assert script_head() == ScriptDirectory(str(MIGRATIONS)).get_current_head()


def revision_file(folder: Path, name: str, body: str) -> None:
    (folder / name).write_text(f'"""a migration"""\nfrom alembic import op\n\n{body}\n\ndef upgrade() -> None:\n'
                               "    op.execute('SELECT 1')\n")


def test_a_merge_has_one_head_and_alembic_agrees(tmp_path: Path) -> None:
    versions = tmp_path / "versions"
    versions.mkdir()
    revision_file(versions, "a.py", "revision = 'a'\ndown_revision = None")
    revision_file(versions, "b.py", "revision: str = 'b'\ndown_revision: str | None = 'a'")
    revision_file(versions, "c.py", "revision = 'c'\ndown_revision = 'a'")
    revision_file(versions, "m.py", "revision = 'm'\ndown_revision = ('b', 'c')")
    (versions / "__init__.py").write_text("revision = 'not a migration'\n")
    (tmp_path / "script.py.mako").write_text("")
    assert script_head(versions) == "m"
    assert ScriptDirectory(str(tmp_path)).get_current_head() == "m"


@pytest.mark.parametrize("second", [
    "revision = 'b'\ndown_revision = None",  # two heads: a and b
    "revision = REVISION\ndown_revision = 'a'",  # not a literal
    "revision = 'b'\ndown_revision = 7",  # neither a revision nor None
    "down_revision = 'a'",  # no revision at all
])
def test_a_tree_it_cannot_read_for_certain_has_no_head(tmp_path: Path, second: str) -> None:
    revision_file(tmp_path, "a.py", "revision = 'a'\ndown_revision = None")
    revision_file(tmp_path, "b.py", second)
    assert script_head(tmp_path) is None


def test_a_readable_tree_of_two_has_its_head(tmp_path: Path) -> None:
    """The cases above differ from this one in one file only: their ``None`` is the file's doing."""
    revision_file(tmp_path, "a.py", "revision = 'a'\ndown_revision = None")
    revision_file(tmp_path, "b.py", "revision = 'b'\ndown_revision = 'a'")
    assert script_head(tmp_path) == "b"


def test_current_only_at_the_head_and_an_admin_session_upgrades_an_older_schema(fresh_url: str) -> None:
    head = script_head()

    async def scenario() -> list[tuple[set[str], bool]]:
        engine = make_engine(fresh_url)
        seen: list[tuple[set[str], bool]] = []

        async def look() -> None:
            async with engine.connect() as connection:
                seen.append(await connection.run_sync(lambda c: (database_revisions(c), is_current(c))))

        def migrate(connection: Connection, to: str) -> None:
            command.upgrade(alembic_config(connection), to)

        try:
            await look()  # never migrated
            async with engine.begin() as connection:
                await connection.run_sync(migrate, "0001")
            await look()  # behind
            await run_in_session(fresh_url, lambda session, now: session.execute(text("SELECT 1")))
            await look()  # brought up to date by the admin session
            async with engine.begin() as connection:
                await connection.execute(text("UPDATE alembic_version SET version_num = 'from-the-future'"))
            await look()  # a revision these scripts do not know: Alembic must run, and refuse
            with pytest.raises(Exception, match="from-the-future"):
                await run_in_session(fresh_url, lambda session, now: session.execute(text("SELECT 1")))
        finally:
            await engine.dispose()
        return seen

    assert asyncio.run(scenario()) == [(set(), False), ({"0001"}, False), ({head}, True),
                                       ({"from-the-future"}, False)]
