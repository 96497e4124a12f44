"""``staffpulse``: runs the agent. Only the headless runner exists so far; the tray app comes later.

``--time-scale`` (hidden) runs the agent's clock faster than real time so crash tests cover many minutes in
seconds; it also switches idle time to the agent's own listeners, since the OS counts real seconds.
"""

from __future__ import annotations

import argparse
import logging
import logging.handlers
import signal
import sys
import threading
from pathlib import Path

from agent import paths
from agent.clock import Clock, ScaledClock, SystemClock
from agent.idle import SinceLastEvent, open_backend
from agent.input_counter import InputCounter
from agent.outbox import Outbox
from agent.runner import Runner

log = logging.getLogger("agent")


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive number of seconds")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="staffpulse", description="StaffPulse activity agent")
    parser.add_argument("--headless", action="store_true", help="run without the tray icon")
    parser.add_argument("--data-dir", type=Path, help="where the outbox lives (default: the platform data dir)")
    parser.add_argument("--log-dir", type=Path, help="where log files go (default: the platform log dir)")
    parser.add_argument(
        "--idle-threshold",
        type=_positive,
        default=300,
        metavar="SECONDS",
        help="no input for this long counts as idle, backdated to the last input (default 300)",
    )
    parser.add_argument("--time-scale", type=float, default=1.0, help=argparse.SUPPRESS)
    return parser


def _configure_logging(directory: Path) -> None:
    file = logging.handlers.RotatingFileHandler(
        directory / "agent.log", maxBytes=1_000_000, backupCount=3, encoding="utf-8"
    )
    handlers: list[logging.Handler] = [file, logging.StreamHandler(sys.stderr)]
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in handlers:
        handler.setFormatter(formatter)
    logging.basicConfig(level=logging.INFO, handlers=handlers)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not args.headless:
        print("staffpulse: the tray app is not built yet; running headless instead", file=sys.stderr)
    _configure_logging(paths.log_dir(args.log_dir))
    clock: Clock = SystemClock() if args.time_scale == 1.0 else ScaledClock(args.time_scale)
    counter = InputCounter(clock.monotonic)
    counter.start()
    fallback = SinceLastEvent(lambda: counter.last_event, clock.monotonic)
    idle = fallback if args.time_scale != 1.0 else open_backend(fallback)
    outbox = Outbox(paths.data_dir(args.data_dir), now=clock.now)
    log.info("agent started: outbox %s, idle threshold %d s", outbox.path, args.idle_threshold)
    runner = Runner(outbox=outbox, clock=clock, counts=counter.totals, idle=idle, idle_threshold=args.idle_threshold)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        runner.run(stop, every=1.0 / args.time_scale)
        log.info("agent stopped: %d minutes waiting for upload", outbox.pending_count())
    finally:
        counter.stop()
        outbox.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
