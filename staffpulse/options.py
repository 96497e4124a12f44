"""The options every way of running the agent shares: ``staffpulse`` and the sampler alone."""

from __future__ import annotations

import argparse
from pathlib import Path

from protocol.defaults import IDLE_THRESHOLD_S


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive number of seconds")
    return value


def add_sampler_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, help="where the outbox lives (default: the platform data dir)")
    parser.add_argument("--log-dir", type=Path, help="where log files go (default: the platform log dir)")
    parser.add_argument("--idle-threshold", type=_positive, metavar="SECONDS",
                        help=f"no input for this long counts as idle, backdated to the last input "
                        f"(default {IDLE_THRESHOLD_S})")
    # Runs the agent's clock faster than real time so crash tests cover many minutes in seconds; it also
    # switches idle time to the agent's own listeners, since the OS counts real seconds.
    parser.add_argument("--time-scale", type=float, default=1.0, help=argparse.SUPPRESS)
