"""The table the load tool prints: one column per measured server, and Node ÷ ours ratios when both ran."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from bench.load.run import Result, percentile

Row = tuple[str, Callable[[Result], float | None], str]

#: (label, value, format)
ROWS: list[Row] = [
    ("sockets held", lambda r: r.held, "{:.0f}"),
    ("connect ramp (s)", lambda r: r.ramp_s, "{:.1f}"),
    ("connect p50 (ms)", lambda r: percentile(r.connect_ms, 50), "{:.1f}"),
    ("connect p99 (ms)", lambda r: percentile(r.connect_ms, 99), "{:.1f}"),
    ("presence PUT→teammate p50 (ms)", lambda r: percentile(r.fanout_ms, 50), "{:.1f}"),
    ("presence PUT→teammate p99 (ms)", lambda r: percentile(r.fanout_ms, 99), "{:.1f}"),
    ("fan-out spread first→last p99 (ms)", lambda r: percentile(r.spread_ms, 99), "{:.1f}"),
    ("presence PUT answer p50 (ms)", lambda r: percentile(r.put_ms, 50), "{:.1f}"),
    ("presence receipts missed", lambda r: r.missed, "{:.0f}"),
    ("ingest 5-slot batches/s", lambda r: r.batches_per_s, "{:.0f}"),
    ("upload answer p99 (ms)", lambda r: percentile(r.upload_ms, 99), "{:.1f}"),
    ("server RSS before (MiB)", lambda r: r.rss_before / 2**20, "{:.1f}"),
    ("server RSS idle, all held (MiB)", lambda r: r.rss_idle / 2**20, "{:.1f}"),
    ("RSS per socket (KiB)", lambda r: r.rss_per_socket / 1024, "{:.1f}"),
    ("all back after restart (s)", lambda r: r.reconnect_s, "{:.2f}"),
    ("all back after stop (s)", lambda r: r.outage_s, "{:.2f}"),
    ("errors", lambda r: sum(r.errors.values()), "{:.0f}"),
]


def _cell(value: float | None, fmt: str) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else fmt.format(value)


def table(results: Sequence[Result], *, node: Result | None = None) -> str:
    """Rows of figures; with ``node``, a column per server of ours ÷ Node: 2.0 means twice Node's value,
    whichever way is better (twice the latency is worse, twice the batches/s better)."""
    columns = [*results, *([node] if node else [])]
    header = ["", *(f"{r.label} ({r.agents})" for r in columns)]
    if node:
        header += [f"{r.label} ÷ node" for r in results]
    lines = [header]
    for label, value, fmt in ROWS:
        row = [label, *(_cell(value(r), fmt) for r in columns)]
        if node:
            theirs = value(node)
            for r in results:
                mine = value(r)
                ok = mine is not None and theirs and not math.isnan(theirs) and not math.isnan(mine)
                row.append(f"{mine / theirs:.2f}" if ok else "-")  # type: ignore[operator]
        lines.append(row)
    lines.append(["machine load (1/5 min)", *(r.load for r in columns), *([""] * len(results) if node else [])])
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = ["  ".join(cell.rjust(w) if i else cell.ljust(w) for i, (cell, w) in enumerate(zip(line, widths,
                                                                                              strict=True)))
           for line in lines]
    for r in columns:
        if r.errors:
            out.append(f"{r.label} errors: " + ", ".join(f"{k} ×{v}" for k, v in sorted(r.errors.items())))
    return "\n".join(out)
