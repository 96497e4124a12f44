"""What one tracker checkpoint costs, to choose how often the agent writes one. Prints figures; not a test.

The checkpoint bounds what a ``kill -9`` loses (the seconds since the last one, with their input), and each one
is a SQLite transaction with ``synchronous=FULL``: a write and an fsync of the outbox's write-ahead log. This
commits ``--commits`` checkpoints of a realistic size (a tracker with two open minutes) into a fresh outbox in
``--dir`` (put it on the disk the agent's data dir lives on; not a tmpfs) and prints, per checkpoint, CPU time
and wall time (mostly the fsync) and, on Linux, bytes sent to the disk; then what each interval would cost.

    .venv/bin/python bench/checkpoint_cost.py [--commits 300] [--dir .]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from agent.clock import Advance
from agent.outbox import Outbox
from agent.slots import InputCounts
from agent.states import Sample, Tracker

INTERVALS_S = (1, 2, 3, 5, 10, 15)


def written_bytes() -> int | None:
    """Bytes this process caused to be sent to storage (Linux only)."""
    try:
        lines = Path("/proc/self/io").read_text().splitlines()
    except OSError:
        return None
    return int(next(line for line in lines if line.startswith("write_bytes:")).split()[1])


def realistic_checkpoints(count: int) -> list[str]:
    """What the agent writes second after second while someone types: a tracker with open minutes whose
    cursor and counts move on (SQLite writes nothing for an unchanged row, so each must differ)."""
    tracker = Tracker.start(idle_threshold=300, wall=1_777_888_830, last_input=1_777_888_830)
    texts = []
    for second in range(1_777_888_831, 1_777_888_831 + count):
        tracker.tick(Sample(Advance(second), True, second, False, InputCounts(keys=3, mouse_px=40)))
        texts.append(tracker.checkpoint())
    return texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--commits", type=int, default=300)
    parser.add_argument("--dir", type=Path, default=Path.cwd(), help="where the scratch outbox goes")
    args = parser.parse_args()
    texts = realistic_checkpoints(args.commits)
    with tempfile.TemporaryDirectory(dir=args.dir) as scratch:
        outbox = Outbox(Path(scratch))
        cpu, wall = [], []
        before = written_bytes()
        for text in texts:
            cpu_start, wall_start = time.process_time(), time.perf_counter()
            outbox.commit([], text)
            cpu.append(time.process_time() - cpu_start)
            wall.append(time.perf_counter() - wall_start)
        after = written_bytes()
        outbox.close()
    per_cpu, per_wall = statistics.mean(cpu), statistics.median(wall)
    slow = sorted(wall)[int(len(wall) * 0.99) - 1]
    per_bytes = None if before is None or after is None else (after - before) / args.commits
    size = statistics.mean(len(text) for text in texts)
    print(f"{args.commits} checkpoints of {size:.0f} bytes into {args.dir} ({sys.platform}):")
    print(f"  per checkpoint: CPU {per_cpu * 1e6:.0f} µs, wall {per_wall * 1e3:.2f} ms median, {slow * 1e3:.1f} ms"
          " 99th percentile (mostly the fsync)"
          + ("" if per_bytes is None else f", {per_bytes / 1024:.1f} KiB to disk"))
    print("  interval   CPU (% of a core)   disk writes per 8-hour day   fsyncs per hour")
    for every in INTERVALS_S:
        day = "" if per_bytes is None else f"{per_bytes * 8 * 3600 / every / 2**20:8.1f} MiB"
        print(f"  {every:5d} s   {per_cpu / every * 100:14.3f} %   {day:>26}   {3600 // every:14d}")


if __name__ == "__main__":
    main()
