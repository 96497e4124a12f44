"""How long each admin command of ``staffpulse-server`` takes as IT runs it: a whole process, start to exit.
Prints figures; not a test.

IT scripts these commands (a loop over users), so their start-up is the cost: each run is a fresh
``python -m server.cli`` on one SQLite database in a temporary folder, ``--runs`` times per command, and the
median and the fastest wall time are printed. The first command on the new database migrates it and is shown on
its own line. ``--checkout`` times another checkout's code with this interpreter (say, main exported with
``git archive``), for a before/after table (docs/server.md, "Administration").

    .venv/bin/python bench/admin_cli.py [--runs 5] [--checkout DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: Each admin command, in an order where each finds what it needs; ``{i}`` (the run, from 1) makes each run
#: create something new and revoke a key the runs before created.
COMMANDS = [
    ["teams", "create", "Team {i}"],
    ["teams", "list"],
    ["teams", "set", "Team 0", "--key-adds-devices", "yes"],
    ["users", "create", "--team", "Team 0", "--login", "user{i}@example.com", "--name", "User {i}"],
    ["users", "list"],
    ["users", "code", "user1@example.com"],
    ["keys", "create", "--team", "Team 0"],
    ["keys", "list"],
    ["keys", "revoke", "{i}"],
    ["devices", "list"],
    ["demo"],
    ["migrate"],
]


def run(checkout: Path, database: str, args: list[str]) -> float:
    """One command's wall time; a command that fails stops the benchmark with its output."""
    env = os.environ | {"PYTHONPATH": str(checkout)}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "server.cli", *args, "--database-url", database],
                          cwd=checkout, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(args)} exited {done.returncode}: {done.stderr.strip()}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="runs of each command (default 5)")
    parser.add_argument("--checkout", type=Path, default=Path(__file__).resolve().parent.parent,
                        help="the checkout whose server.cli is timed (default: this one)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        database = f"sqlite:///{Path(folder) / 'admin.db'}"
        print(f"{'command':<16} {'median s':>9} {'min s':>7}   ({options.runs} runs, {options.checkout})")
        first = run(options.checkout, database, ["teams", "create", "Team 0"])
        print(f"{'first (migrates)':<16} {first:>9.2f} {first:>7.2f}")
        for command in COMMANDS:
            times = [run(options.checkout, database, [a.format(i=i) for a in command])
                     for i in range(1, options.runs + 1)]
            print(f"{' '.join(command[:2]):<16} {statistics.median(times):>9.2f} {min(times):>7.2f}")


if __name__ == "__main__":
    main()
