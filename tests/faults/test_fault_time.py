"""The agent's wall clock steps forward and back while it runs (libfaketime, as NTP or a person would), and the
laptop "sleeps": the agent process is frozen with SIGSTOP and woken with SIGCONT, a real gap in sampling.

Stepped and slept time must not be tracked (the agent counts on its monotonic clock), a backward step must not
land seconds on minutes already written, and every minute still arrives exactly once.
"""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path

from fault_harness import SCALE, FaultAgent, FaultReport, Syncer, assert_exactly_once, press_keys, reconcile

from support.servers import ServerProcess
from support.team import Team

JUMPS = (+600, -300, +900, -120)  # agent seconds
SLEEPS_S = (2.0, 1.5, 2.5)  # real seconds the process is frozen: 2 to 2.5 agent minutes each


def test_clock_jumps_and_sleep_gaps(server: ServerProcess, team: Team, tmp_path: Path, agents: list[FaultAgent],
                                    fault_report: FaultReport, x_display: str) -> None:
    """Keys are pressed after every step and wake-up: a sleep or forward step leaves the person away until input,
    so without it nothing after the first fault would be tracked."""
    member = team.people[0]
    agent = FaultAgent(tmp_path / "agent", server.url, member, display=x_display)
    agents.append(agent)
    started = time.monotonic()
    agent.start()
    pressed = press_keys(x_display, 5)
    with Syncer(agent):
        for jump, sleep_s in zip(JUMPS, (*SLEEPS_S, 0.0), strict=True):
            time.sleep(1.0)
            agent.clock.jump(jump)
            pressed += press_keys(x_display, 5)
            time.sleep(1.0)
            if sleep_s:
                agent.signal(signal.SIGSTOP)
                time.sleep(sleep_s)
                agent.signal(signal.SIGCONT)
                pressed += press_keys(x_display, 5)
        time.sleep(1.0)
        agent.stop()
    elapsed = time.monotonic() - started
    log = agent.log_text()
    # A step that lands together with a sampling gap (a freeze, or a stall of a loaded machine: 15 agent seconds
    # are 0.25 real ones) is absorbed by the gap and not logged on its own, so not every step has its line.
    assert "wall clock stepped forward" in log and "wall clock stepped back" in log, log[-3000:]
    gaps = [int(g) for g in re.findall(r"no sample for (\d+) s: treating it as sleep", log)]
    for sleep_s in SLEEPS_S:  # each freeze was seen as a sleep of about its length
        assert any(abs(gap - sleep_s * SCALE) <= 0.5 * SCALE for gap in gaps), (sleep_s, gaps)
    agent.drain()
    outcome = reconcile(agent.data, server, member)
    assert_exactly_once(outcome, server, member, minimum=10)
    # Never a key invented. At 60x a 0.25 s stall of the loaded test machine reads as a 15 s sleep, and the keys
    # of the one sample that swallows such a stall can be dropped with it (their minute has no tracked second):
    # at most one press_keys burst, seen once in CI (39 of 40). Every minute is still exactly once (above).
    counted = sum(slot.keys for slot in outcome.local.values())
    assert pressed - 5 <= counted <= pressed, f"{counted} keys counted of {pressed} pressed"
    tracked = sum(slot.tracked_s for slot in outcome.local.values())
    awake = (elapsed - sum(SLEEPS_S)) * SCALE
    assert tracked <= awake + 2 * SCALE, f"tracked {tracked} s, but the agent was awake at most {awake:.0f} s"
    assert tracked >= 0.5 * awake - 10 * SCALE, f"tracked only {tracked} s of about {awake:.0f} s awake"
    fault_report.add("clock steps ±2-15 min and SIGSTOP sleeps", len(JUMPS) + len(SLEEPS_S), outcome,
                     f"tracked {tracked} s of {awake:.0f} s awake; sleep gaps seen {gaps}")
