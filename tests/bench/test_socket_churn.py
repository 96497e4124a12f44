"""The socket churn bench at a tiny size against a real server, so it cannot silently rot: every cycle must end
with ``/healthz`` counting no socket, for both client kinds, or the figures in docs/security.md could not be
made again."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_socket_churn_runs_every_cycle_for_both_client_kinds() -> None:
    command = ["-m", "bench.socket_churn", "--cycles", "2", "--sockets", "20", "--settle", "1", "--quiet"]
    done = subprocess.run([sys.executable, *command], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    rows = {line[:30].strip(): line[30:].split() for line in done.stdout.splitlines() if "2 x 20" in line}
    assert set(rows) == {"no deflate offer (agent)", "deflate offer (browser, JS)"}, done.stdout
    for cells in rows.values():
        baseline, first, last, settled = (float(cell) for cell in cells[3:7])
        assert 10 < baseline <= first and last > 10 and settled > 10, done.stdout
        assert cells[9] == "no", done.stdout  # the server declines permessage-deflate whoever offers it
