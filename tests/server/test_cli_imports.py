"""The admin commands start fast: they load SQLAlchemy and our admin code, never the web stack, and Alembic only
when the schema is behind (docs/server.md, "Administration"). Each of these libraries once cost a command
hundreds of milliseconds, and IT runs the commands in loops."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

#: Loaded by ``serve`` alone. pydantic comes with the wire models, which no admin command needs.
WEB_STACK = {"fastapi", "starlette", "uvicorn", "socketio", "engineio", "pydantic", "redis", "httptools"}

#: Commands run one after another in one interpreter, as ``main`` runs them, with their exit codes.
SCRIPT = """
import json, sys
from server.cli import main
codes = [main([*command, "--database-url", sys.argv[1]]) for command in json.loads(sys.argv[2])]
loaded = {name.partition(".")[0] for name in sys.modules}
print(json.dumps({"codes": codes, "loaded": sorted(loaded)}), file=sys.stderr)
"""

ADMIN_COMMANDS = [
    ["teams", "create", "T"],
    ["teams", "create", "T"],
    ["teams", "list"],
    ["teams", "set", "T", "--key-adds-devices", "yes"],
    ["users", "create", "--team", "T", "--login", "a@example.com", "--name", "A"],
    ["users", "list"],
    ["users", "code", "a@example.com"],
    ["keys", "create", "--team", "T"],
    ["keys", "list"],
    ["keys", "revoke", "1"],
    ["devices", "list"],
    ["devices", "revoke", "7"],
    ["demo"],
    ["migrate"],
    ["users", "list", "--json"],
]


def run_in_one_process(database: Path, commands: list[list[str]]) -> tuple[list[int], set[str]]:
    done = subprocess.run([sys.executable, "-c", SCRIPT, f"sqlite:///{database}", json.dumps(commands)],
                          capture_output=True, text=True, timeout=120, check=True)
    report = json.loads(done.stderr.splitlines()[-1])
    return report["codes"], set(report["loaded"])


def test_admin_commands_never_load_the_web_stack_and_alembic_only_to_migrate(tmp_path: Path) -> None:
    database = tmp_path / "admin.db"
    codes, loaded = run_in_one_process(database, [["migrate"]])
    assert codes == [0]
    assert "alembic" in loaded, "a new database is migrated by Alembic"
    assert not loaded & WEB_STACK

    codes, loaded = run_in_one_process(database, ADMIN_COMMANDS)
    # The duplicate team and the unknown device are refused: the error path loads nothing more either.
    assert codes == [0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0]
    assert "sqlalchemy" in loaded, "the commands ran"
    assert not loaded & (WEB_STACK | {"alembic"})


def test_the_report_command_loads_the_wire_models_but_not_the_web_server(tmp_path: Path) -> None:
    """``report`` writes the API's models (pydantic), built by ``server.history``; never FastAPI or uvicorn."""
    database = tmp_path / "report.db"
    codes, loaded = run_in_one_process(database, [
        ["teams", "create", "T"], ["report", "--team", "T", "--start", "2026-01-01", "--end", "2026-01-07"]])
    assert codes == [0, 0]
    assert "pydantic" in loaded, "the report was built"
    assert not loaded & (WEB_STACK - {"pydantic"})
