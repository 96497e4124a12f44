"""The load tool at a tiny size against real servers (ours on SQLite, and the Node reference), so it cannot
silently rot: every phase must run and every agent must be counted, or the figures in docs/scaling.md could
not be made again."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = ROOT / "bench" / "node_reference"
AGENTS = 20


def figures(table: str, column: int) -> dict[str, str]:
    """Row label → the cell in ``column`` (0: ours, 1: node, 2: ratio) of the printed table."""
    rows = {}
    for line in table.splitlines():
        label, *cells = re.split(r"\s{2,}", line.strip())
        if len(cells) == 3:
            rows[label] = cells[column]
    return rows


def test_load_tool_measures_ours_and_the_node_reference() -> None:
    if not (NODE_DIR / "node_modules").is_dir():  # the Node reference's packages, from its package-lock.json
        npm = shutil.which("npm")
        assert npm is not None, "npm not found: apt-get install nodejs npm"
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, check=True, capture_output=True)
    done = subprocess.run(
        [sys.executable, "-m", "bench.load", "--spawn", "sqlite", "--agents", str(AGENTS), "--procs", "1",
         "--steady", "0.5", "--storms", "2", "--storm-gap", "0.3", "--waves", "1", "--compare-node"],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    for column in (0, 1):
        row = figures(done.stdout, column)
        assert row["sockets held"] == str(AGENTS), done.stdout
        assert row["presence receipts missed"] == "0", done.stdout
        assert row["errors"] == "0", done.stdout
        assert float(row["presence PUT→teammate p99 (ms)"]) > 0
        assert float(row["ingest 5-slot batches/s"]) > 0
        assert float(row["server RSS before (MiB)"]) > 10
        assert float(row["all back after restart (s)"]) >= 0
    assert float(figures(done.stdout, 2)["sockets held"]) == 1.0
