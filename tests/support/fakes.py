"""The agent's clock, idle backend and input counts as tests drive them: time moves only when a test ticks it.

For the runner's own tests (tests/agent) and for a sampler run against a real server (tests/sync), where the
minutes written must be exact whatever the machine's load.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from agent.slots import InputCounts


class FakeClock:
    """Wall and monotonic time that move together, and only on ``tick``."""

    def __init__(self, start: datetime) -> None:
        self.wall = start
        self.mono = 100.0

    def now(self) -> datetime:
        return self.wall

    def monotonic(self) -> float:
        return self.mono

    def tick(self, seconds: float = 1.0) -> None:
        self.wall += timedelta(seconds=seconds)
        self.mono += seconds


class FakeIdle:
    """An idle backend whose idle time and lock state the test sets."""

    def __init__(self) -> None:
        self.idle = 0.0
        self.is_locked = False

    def idle_seconds(self) -> float:
        return self.idle

    def locked(self) -> bool:
        return self.is_locked


class FakeKeyboard:
    """The input counter's running totals, raised by ``press``."""

    def __init__(self) -> None:
        self.total = InputCounts()

    def press(self, keys: int = 1) -> None:
        self.total += InputCounts(keys=keys)

    def totals(self) -> InputCounts:
        return self.total
