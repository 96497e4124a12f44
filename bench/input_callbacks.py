"""What the input counter's callbacks cost per event: they run on pynput's threads for every event (a moving
mouse sends hundreds a second). Prints figures; not a test. Target: well under 10 µs an event, so even 1,000
events a second cost under 1 % of a core.

    .venv/bin/python bench/input_callbacks.py [--events 200000]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from agent.input_counter import InputCounter


def per_event(callback: Callable[[int], None], events: int) -> float:
    """CPU seconds per call, the best of three rounds (the least disturbed by the rest of the machine)."""
    rounds = []
    for _ in range(3):
        start = time.process_time()
        for i in range(events):
            callback(i)
        rounds.append((time.process_time() - start) / events)
    return min(rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args()
    counter = InputCounter(time.monotonic)
    callbacks: dict[str, Callable[[int], None]] = {
        "mouse move": lambda i: counter._on_move(i % 7, i % 5, False),
        "key press": lambda i: counter._on_press(None, False),
        "key release": lambda i: counter._on_release(None, False),
        "click (press + release)": lambda i: counter._on_click(1, 2, None, i % 2 == 0, False),
        "wheel tick": lambda i: counter._on_scroll(0, 0, 0, -1, False),
    }
    print(f"{args.events} events per kind, best of 3 rounds:")
    for name, callback in callbacks.items():
        seconds = per_event(callback, args.events)
        print(f"  {name:24s} {seconds * 1e6:6.2f} µs   at 1,000 a second: {seconds * 1000 * 100:.3f} % of a core")


if __name__ == "__main__":
    main()
