"""Stopping cleanly on SIGTERM and SIGINT, for every way of running the agent (``staffpulse``, the sampler alone).

The sampler writes the open minute before it exits, so a stop must reach it as an event it waits on, not as an
exception raised wherever the main thread happens to be.
"""

from __future__ import annotations

import os
import signal
import threading


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
