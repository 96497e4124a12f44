"""``python -m bench.load``: measure our server (and optionally the Node reference) and print the table."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from bench.load import roster, targets
from bench.load.report import table
from bench.load.run import Options, Result, measure


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=(
        "Simulate N agents (socket.io websockets + HTTP) against a StaffPulse server: connect ramp, steady "
        "state, presence storms, upload waves, reconnect storm. Prints a table."))
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--spawn", choices=["sqlite", "postgres"], help="start our server on a fresh database")
    where.add_argument("--url", help="a running server (with --database-url to seed and --server-pid for RSS)")
    parser.add_argument("--database-url", help="the running server's database, seeded with the agents")
    parser.add_argument("--server-pid", type=int, help="the running server's process id, for its RSS")
    parser.add_argument("--agents", type=int, default=1000, help="simulated agents, one socket each (default 1000)")
    parser.add_argument("--procs", type=int, default=2, help="client processes sharing the sockets (default 2)")
    parser.add_argument("--ramp", type=float, default=500.0, metavar="PER_S",
                        help="new connections per second (default 500)")
    parser.add_argument("--steady", type=float, default=5.0, metavar="S", help="idle hold before RSS (default 5)")
    parser.add_argument("--storms", type=int, default=5, help="presence storm rounds (default 5)")
    parser.add_argument("--storm-gap", type=float, default=1.0, metavar="S",
                        help="pause after each storm round, for its receipts (default 1)")
    parser.add_argument("--waves", type=int, default=2, help="upload waves, one batch per agent each (default 2)")
    parser.add_argument("--no-reconnect", action="store_true", help="skip the restart and reconnect storm")
    parser.add_argument("--compare-node", action="store_true",
                        help="measure the Node reference (bench/node_reference) in the same run; print ratios")
    parser.add_argument("--server-arg", action="append", default=[], metavar="ARG",
                        help="extra argument for our spawned server (repeat: --server-arg=--max-sockets-per-user "
                        "--server-arg=5)")
    return parser


class _Running:
    """A server the tool did not start: measured, never restarted."""

    def __init__(self, url: str, pid: int) -> None:
        self._url, self._pid = url.rstrip("/"), pid

    @property
    def url(self) -> str:
        return self._url

    @property
    def pid(self) -> int:
        return self._pid

    def stop(self) -> None:
        raise RuntimeError("cannot restart a server this tool did not start")

    start = stop


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.agents < 2 or args.procs < 1:
        _parser().error("--agents must be at least 2 and --procs at least 1")
    if args.url and not (args.database_url and args.server_pid):
        _parser().error("--url needs --database-url (to seed the agents) and --server-pid (for its RSS)")
    limit = targets.raise_fd_limit()
    if limit < args.agents * 2 + 100:
        print(f"warning: open-files limit {limit} is low for {args.agents} sockets", file=sys.stderr)
    options = Options(procs=args.procs, ramp_per_s=args.ramp, steady_s=args.steady, storm_rounds=args.storms,
                      storm_gap_s=args.storm_gap,
                      upload_waves=args.waves, reconnect=not args.no_reconnect and bool(args.spawn))
    results: list[Result] = []
    node: Result | None = None
    with targets.workdir() as base:
        if args.url:
            agents = asyncio.run(roster.seed_database(args.database_url, args.agents))
            results.append(asyncio.run(measure("server", _Running(args.url, args.server_pid), agents, options)))
        else:
            with targets.database(args.spawn, base) as url:
                agents = asyncio.run(roster.seed_database(url, args.agents))
                with targets.ours(url, base, *args.server_arg) as server:
                    results.append(asyncio.run(measure(f"ours/{args.spawn}", server, agents, options)))
        if args.compare_node:
            fake = roster.synthetic(args.agents)
            roster.write_roster(fake, base / "roster.json")
            with targets.node(base / "roster.json", base) as reference:
                node = asyncio.run(measure("node", reference, fake, options))
    print(table(results, node=node))
    return 0


if __name__ == "__main__":
    sys.exit(main())
