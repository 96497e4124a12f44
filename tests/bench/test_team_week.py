"""The history benchmark at a tiny size against a real server, so it cannot silently rot: the figures in
docs/server.md ("History and day summaries") must stay reproducible."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_team_week_benchmark_seeds_serves_and_measures(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "bench.team_week", "--members", "3", "--days", "2", "--runs", "2",
                           "--keep", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("seeded 3 members x 2 days: 3,240 minutes"), done.stdout
    assert "team week (7 days, 3 members)" in lines[1] and "server CPU" in lines[1], done.stdout
    assert lines[2].startswith("team day with timelines"), done.stdout
    assert lines[3].startswith("current week under uploads") and "server CPU" in lines[3], done.stdout
    assert "the day 3 timelines" in lines[4] and "uploads during" in lines[4], done.stdout
