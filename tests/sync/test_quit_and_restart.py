"""A quit and a quick restart against the real server: the minute the quit fell in is continued, not lost.

The agent's side (sampler, outbox, the server-facing threads of ``Connected``) is the real one; only its clock
and input are injected, so the restart lands inside the minute of the stop whatever the time of day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from agent.assembly import Sampler
from agent.input_counter import InputCounter
from agent.outbox import Outbox
from agent.runner import Runner
from support.fakes import FakeClock, FakeIdle, FakeKeyboard
from support.servers import ServerProcess
from support.team import Person, Team, get
from sync.service import Connected

NOON = (datetime.now(UTC) - timedelta(days=2)).replace(hour=12, minute=0, second=0, microsecond=0)


def run_agent(data: Path, clock: FakeClock, server: ServerProcess, person: Person, seconds: int) -> None:
    """One run of the agent: connect, type a key a second for ``seconds`` samples, quit as the service does
    (the sampler's stop first, then the server side's, with its last upload)."""
    keyboard = FakeKeyboard()
    outbox = Outbox(data, now=clock.now)
    runner = Runner(outbox=outbox, clock=clock, counts=keyboard.totals, idle=FakeIdle(), idle_threshold=60)
    sampler = Sampler(counter=InputCounter(clock.monotonic), outbox=outbox, runner=runner, every=1.0)
    connected = Connected(sampler, server.url, lambda: person.token, ca_bundle=None, sync_interval_s=3600)
    connected.start()
    try:
        for _ in range(seconds):
            clock.tick()
            keyboard.press()
            runner.sample()
        runner.close()
    finally:
        connected.stop()
        outbox.close()


def test_a_restart_within_the_minute_of_a_quit_continues_it_on_the_server(
        server: ServerProcess, team: Team, tmp_path: Path) -> None:
    person, clock = team.people[1], FakeClock(NOON)
    run_agent(tmp_path, clock, server, person, 10)  # quit at 12:00:10
    clock.tick(5)
    run_agent(tmp_path, clock, server, person, 60)  # restart at 12:00:15, quit at 12:01:15
    day = get(server, person, f"/api/v1/me/days/{NOON.date().isoformat()}").json()
    stored = [(slot["start"], slot["tracked_s"], slot["keys"]) for slot in day["slots"]]
    # 12:00:01–12:00:10, then 12:00:16–12:01:00 (the restart's gap untracked): one minute, both runs in it.
    # The minute of the second quit waits in the outbox for the next start.
    assert [(datetime.fromisoformat(start), tracked, keys) for start, tracked, keys in stored] == [
        (NOON, 9 + 44, 10 + 45)]
    outbox = Outbox(tmp_path, now=clock.now)
    assert [slot.start for slot in outbox.peek()] == [NOON + timedelta(minutes=1)]
    outbox.close()
