"""``python -m staffpulse.sampler``: the sampler alone — counts input and fills the outbox, no network.

The full agent is ``staffpulse`` (``staffpulse.cli``), which adds uploading, the live connection and the tray
on top of the same options. This entry stays for measuring and testing the core by itself
(``bench/agent_overhead.py``, the crash and X11 tests); it imports agent/ only, and an import-linter contract
keeps it that way.
"""

from __future__ import annotations

import argparse
import sys

from agent import paths
from agent.assembly import Sampler, configure_logging
from agent.signals import stop_on_signals
from protocol.defaults import IDLE_THRESHOLD_S
from staffpulse.options import add_sampler_arguments


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m staffpulse.sampler",
                                     description="StaffPulse sampler (no network)")
    add_sampler_arguments(parser)
    args = parser.parse_args(argv)
    configure_logging(paths.log_dir(args.log_dir))
    sampler = Sampler.open(paths.data_dir(args.data_dir), idle_threshold=args.idle_threshold or IDLE_THRESHOLD_S,
                           time_scale=args.time_scale)
    stop = stop_on_signals()
    try:
        sampler.run(stop)
    finally:
        sampler.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
