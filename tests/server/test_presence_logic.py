"""The pure presence rule, edge by edge: most present device wins; offline only after the grace period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from protocol.schema import PresenceState as S
from server.presence import DeviceStatus, effective

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
GRACE = timedelta(seconds=60)


def device(*, connected: bool = False, seen_ago: float | None = None, state: S | None = None,
           since: datetime | None = None) -> DeviceStatus:
    last_seen = None if seen_ago is None else NOW - timedelta(seconds=seen_ago)
    return DeviceStatus(connected=connected, last_seen=last_seen, state=state, since=since)


def test_never_seen_is_offline() -> None:
    shown = effective([], NOW, GRACE)
    assert (shown.state, shown.since, shown.last_seen) == (S.OFFLINE, None, None)


def test_grace_edge() -> None:
    assert effective([device(seen_ago=60, state=S.IDLE)], NOW, GRACE).state is S.IDLE
    gone = effective([device(seen_ago=60.001, state=S.IDLE)], NOW, GRACE)
    assert (gone.state, gone.since) == (S.OFFLINE, NOW - timedelta(seconds=60.001))


def test_connected_without_report_counts_as_active_since_seen() -> None:
    shown = effective([device(connected=True, seen_ago=30)], NOW, GRACE)
    assert (shown.state, shown.since, shown.last_seen) == (S.ACTIVE, NOW - timedelta(seconds=30), NOW)


def test_connected_without_report_counts_as_active_since_it_connected() -> None:
    # Not since last_seen, which the sweeper refreshes every pass; and flagged as an estimate.
    connected_at = NOW - timedelta(minutes=3)
    status = DeviceStatus(connected=True, last_seen=NOW, connected_since=connected_at)
    shown = effective([status], NOW, GRACE)
    assert (shown.state, shown.since, shown.since_estimated) == (S.ACTIVE, connected_at, True)
    reported = device(connected=True, state=S.ACTIVE, since=NOW - timedelta(minutes=9))
    assert effective([status, reported], NOW, GRACE).since_estimated is False, "a report beats an estimate"


def test_a_device_that_has_not_reported_does_not_override_one_that_did() -> None:
    """Issue 15, item 7: a second PC switched on while the person is on break must not show them active."""
    on_break = device(connected=True, state=S.BREAK, since=NOW - timedelta(minutes=4))
    second = DeviceStatus(connected=True, last_seen=NOW, connected_since=NOW - timedelta(seconds=5))
    shown = effective([on_break, second], NOW, GRACE)
    assert (shown.state, shown.since, shown.since_estimated) == (S.BREAK, NOW - timedelta(minutes=4), False)
    assert effective([device(seen_ago=30, state=S.AWAY), second], NOW, GRACE).state is S.AWAY


def test_most_present_device_wins() -> None:
    t = NOW - timedelta(minutes=5)
    for states, expected in [((S.BREAK, S.ACTIVE), S.ACTIVE), ((S.IDLE, S.BREAK), S.BREAK),
                             ((S.AWAY, S.IDLE), S.IDLE), ((S.AWAY, S.AWAY), S.AWAY)]:
        shown = effective([device(connected=True, state=s, since=t) for s in states], NOW, GRACE)
        assert shown.state is expected


def test_a_pause_loses_to_every_tracked_state_and_wins_over_away() -> None:
    """Issue 15, item 12: the rank of ``paused`` between idle and away (docs/protocol.md "Presence")."""
    t = NOW - timedelta(minutes=5)
    for other, expected in [(S.ACTIVE, S.ACTIVE), (S.BREAK, S.BREAK), (S.IDLE, S.IDLE), (S.AWAY, S.PAUSED)]:
        for states in ((S.PAUSED, other), (other, S.PAUSED)):
            shown = effective([device(connected=True, state=s, since=t) for s in states], NOW, GRACE)
            assert shown.state is expected, states


def test_stale_device_does_not_count() -> None:
    shown = effective([device(seen_ago=600, state=S.ACTIVE), device(connected=True, state=S.BREAK)], NOW, GRACE)
    assert shown.state is S.BREAK
