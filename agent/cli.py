"""``python -m agent.cli``: the sampler alone — counts input and fills the outbox, no network.

The full agent is ``staffpulse`` (``sync.cli``), which adds uploading and the live connection on top of the
same options. This entry stays for measuring and testing the core by itself (``bench/agent_overhead.py``,
the crash and X11 tests).

``--time-scale`` (hidden) runs the agent's clock faster than real time so crash tests cover many minutes in
seconds; it also switches idle time to the agent's own listeners, since the OS counts real seconds.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path

from agent import paths
from agent.assembly import Sampler, configure_logging


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive number of seconds")
    return value


def add_sampler_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every way of running the agent shares."""
    parser.add_argument("--headless", action="store_true", help="run without the tray icon")
    parser.add_argument("--data-dir", type=Path, help="where the outbox lives (default: the platform data dir)")
    parser.add_argument("--log-dir", type=Path, help="where log files go (default: the platform log dir)")
    parser.add_argument("--idle-threshold", type=_positive, metavar="SECONDS",
                        help="no input for this long counts as idle, backdated to the last input (default 300)")
    parser.add_argument("--time-scale", type=float, default=1.0, help=argparse.SUPPRESS)


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT, so the sampler writes the open minute before exiting.

    The handler only writes a byte to a pipe and a watcher thread sets the event. Python runs a handler on the
    main thread between two bytecodes, which may be inside ``stop.wait`` while that thread holds the event's own
    lock: ``stop.set()`` in the handler would then wait for itself forever (a CI run hung this way). The pipe
    takes no lock."""
    stop = threading.Event()
    reader, writer = os.pipe()

    def watch() -> None:
        os.read(reader, 1)
        stop.set()

    def handler(*_: object) -> None:
        os.write(writer, b"\0")

    threading.Thread(target=watch, name="signals", daemon=True).start()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, handler)
    return stop


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m agent.cli", description="StaffPulse sampler (no network)")
    add_sampler_arguments(parser)
    args = parser.parse_args(argv)
    configure_logging(paths.log_dir(args.log_dir))
    sampler = Sampler.open(paths.data_dir(args.data_dir), idle_threshold=args.idle_threshold or 300,
                           time_scale=args.time_scale)
    stop = stop_on_signals()
    try:
        sampler.run(stop)
    finally:
        sampler.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
