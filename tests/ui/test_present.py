"""The presentation rules, without Qt: words, the tray icon's look, per-hour buckets, notifications."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from agent.returning import IdleReturn
from protocol.schema import PresenceState, Role, Slot, TeamMember
from sync.live import LinkState, LiveStatus
from sync.uploader import KEPT, SyncStatus
from ui import preferences, present
from ui.present import TrayLook

NOW = datetime(2026, 11, 25, 14, 30, tzinfo=UTC)


def test_durations_percent_and_times() -> None:
    assert [present.duration(s) for s in (0, 59, 60, 2699, 3600, 11100)] == [
        "0 min", "0 min", "1 min", "44 min", "1 h 00 min", "3 h 05 min"]
    assert present.percent(63.4) == "63 %"
    assert present.clock_time(None, NOW) == "—"
    assert present.clock_time(NOW - timedelta(minutes=25), NOW, UTC) == "14:05"
    assert present.clock_time(NOW - timedelta(days=1), NOW, UTC) == "Tue 14:30"
    assert present.clock_time(NOW - timedelta(days=30), NOW, UTC) == "2026-10-26"
    assert [present.ago(NOW - timedelta(seconds=s), NOW) for s in (5, 300, 7300, 200000)] == [
        "just now", "5 min ago", "2 h ago", "2 days ago"]
    assert present.ago(None, NOW) == "never"
    assert present.ago(NOW - timedelta(hours=30), NOW) == "1 day ago"


def test_tray_look_puts_problems_before_the_state() -> None:
    live = LinkState.LIVE
    assert present.tray_look(PresenceState.BREAK, live, sync_failed=False, refused=False) is TrayLook.BREAK
    assert present.tray_look(PresenceState.ACTIVE, LinkState.RECONNECTING, sync_failed=False,
                             refused=False) is TrayLook.OFFLINE
    assert present.tray_look(PresenceState.ACTIVE, live, sync_failed=True, refused=False) is TrayLook.ERROR
    assert present.tray_look(PresenceState.IDLE, LinkState.OFFLINE, sync_failed=False, refused=True) is TrayLook.ERROR
    colours = {look.colour for look in TrayLook}
    assert len(colours) == len(TrayLook), "every look must be told apart by its colour"


def slot(start: datetime, active: int, typed: int) -> Slot:
    return Slot(start=start, tracked_s=60, active_s=active, idle_s=60 - active, break_s=0, input_s=typed, keys=1,
                clicks=0, scrolls=0, mouse_px=0)


def test_hourly_buckets_use_the_local_hour_also_on_dst_days() -> None:
    # 2026-10-25 in Berlin has 25 hours: 02:00-02:59 happens twice (00:xx and 01:xx UTC).
    slots = [slot(datetime(2026, 10, 25, 0, 10, tzinfo=UTC), 60, 30),
             slot(datetime(2026, 10, 25, 1, 10, tzinfo=UTC), 40, 10),
             slot(datetime(2026, 10, 25, 12, 0, tzinfo=UTC), 20, 20)]
    hours = present.hourly_active(slots, "Europe/Berlin")
    assert len(hours) == 24
    assert hours[2] == (100, 40)
    assert hours[13] == (20, 20)
    assert sum(active for active, _ in hours) == 120


def member(user_id: int, state: PresenceState) -> TeamMember:
    return TeamMember(user_id=user_id, name=f"P{user_id}", role=Role.MEMBER, state=state, since=NOW, last_seen=NOW)


def test_break_notices_name_teammates_only() -> None:
    watch = present.BreakWatch()
    before = [member(1, PresenceState.ACTIVE), member(2, PresenceState.BREAK), member(3, PresenceState.IDLE),
              member(4, PresenceState.ACTIVE)]
    assert watch.notices(before, me=4) == [], "the first view only records"
    after = [member(1, PresenceState.BREAK), member(2, PresenceState.ACTIVE), member(3, PresenceState.ACTIVE),
             member(4, PresenceState.BREAK), member(5, PresenceState.BREAK)]
    assert watch.notices(after, me=4) == ["P1 started a break", "P2 ended their break"]


def test_a_break_shown_again_after_a_server_restart_is_not_news() -> None:
    """Issue 15, item 7: the re-read after a restart (the member offline meanwhile) brings back the same break,
    with the ``since`` it began at; only a break that began later is told."""
    watch = present.BreakWatch()
    began = NOW - timedelta(minutes=7)
    on_break = member(1, PresenceState.BREAK).model_copy(update={"since": began})
    assert watch.notices([member(1, PresenceState.ACTIVE)], me=None) == []
    assert watch.notices([on_break], me=None) == ["P1 started a break"]
    assert watch.notices([member(1, PresenceState.OFFLINE)], me=None) == [], "offline does not end a break"
    assert watch.notices([on_break], me=None) == [], "the same break, re-read after the restart"
    assert watch.notices([member(1, PresenceState.ACTIVE)], me=None) == ["P1 ended their break"]
    assert watch.notices([on_break.model_copy(update={"since": NOW})], me=None) == ["P1 started a break"]


def test_a_teammate_who_pauses_during_a_break_has_ended_it_and_a_pause_is_no_break() -> None:
    """Issue 15, item 12: a pause ends a break (``agent.states``), and the team sees it end; a pause is a
    present state, not news of a break starting, and its end is not news either."""
    watch = present.BreakWatch()
    watch.notices([member(1, PresenceState.ACTIVE)], me=None)
    assert watch.notices([member(1, PresenceState.BREAK)], me=None) == ["P1 started a break"]
    assert watch.notices([member(1, PresenceState.PAUSED)], me=None) == ["P1 ended their break"]
    assert watch.notices([member(1, PresenceState.ACTIVE)], me=None) == []


def test_payload_preview_is_the_batch_as_sent() -> None:
    assert present.payload_preview([]) == "Nothing is waiting to be sent."
    body = json.loads(present.payload_preview([slot(NOW.replace(minute=0), 30, 10)]))
    assert set(body) == {"batch_id", "slots"}
    assert set(body["slots"][0]) == set(Slot.model_fields)
    assert body["slots"][0]["start"].startswith("2026-11-25T14:00:00")


def test_preferences_round_trip_and_survive_a_broken_file(tmp_path: Path) -> None:
    assert preferences.load(tmp_path) == preferences.Preferences()
    preferences.save(tmp_path, preferences.Preferences(notify_breaks=False))
    assert preferences.load(tmp_path).notify_breaks is False
    (tmp_path / preferences.FILE_NAME).write_text("{not json")
    assert preferences.load(tmp_path) == preferences.Preferences()


def test_a_pause_shows_over_being_offline_but_not_over_a_failing_upload() -> None:
    paused = PresenceState.PAUSED
    assert present.tray_look(paused, LinkState.LIVE, sync_failed=False, refused=False) is TrayLook.PAUSED
    assert present.tray_look(paused, LinkState.OFFLINE, sync_failed=False, refused=False) is TrayLook.PAUSED
    assert present.tray_look(paused, LinkState.LIVE, sync_failed=True, refused=False) is TrayLook.ERROR
    assert present.tray_look(PresenceState.AWAY, LinkState.LIVE, sync_failed=False, refused=False) is TrayLook.AWAY
    assert TrayLook.PAUSED.colour == present.STATE_COLOURS[paused], "the tray and the team table agree"


def test_sync_stalled_after_thirty_minutes_without_success_while_minutes_wait() -> None:
    started = NOW - timedelta(hours=2)
    failing = SyncStatus(last_success=NOW - timedelta(minutes=31), pending=4, last_error="connection refused")
    assert present.sync_stalled(failing, started, NOW)
    assert not present.sync_stalled(failing, started, NOW - timedelta(minutes=2)), "29 minutes: not yet"
    assert not present.sync_stalled(replace(failing, pending=0), started, NOW), "nothing waits: nothing missing"
    never = SyncStatus(pending=4, last_error="connection refused")
    assert not present.sync_stalled(never, NOW - timedelta(minutes=10), NOW), "counted from the start"
    assert present.sync_stalled(never, NOW - timedelta(minutes=30), NOW)


def test_the_idle_question_names_the_spell() -> None:
    spell = IdleReturn(since=NOW - timedelta(minutes=39), until=NOW)
    assert present.idle_question(spell, NOW, UTC) == "You were away from 13:51 to 14:30 (39 min). What was it?"


def test_last_seen_is_now_for_present_members_and_the_servers_moment_for_offline_ones() -> None:
    read = NOW - timedelta(minutes=3)  # what ``/team`` said three quiet minutes ago: "seen now"
    active = TeamMember(user_id=1, name="A", role=Role.MEMBER, state=PresenceState.ACTIVE, since=read, last_seen=read)
    assert present.last_seen(active, NOW) == "now"
    assert present.last_seen(active.model_copy(update={"state": PresenceState.AWAY}), NOW) == "now"
    gone = active.model_copy(update={"state": PresenceState.OFFLINE, "last_seen": NOW - timedelta(minutes=42)})
    assert present.last_seen(gone, NOW) == "42 min ago"
    assert present.last_seen(gone.model_copy(update={"last_seen": None}), NOW) == "never"


def test_no_up_to_date_beside_a_lost_server_and_no_error_none_beside_a_failing_connection() -> None:
    done = SyncStatus(last_attempt=NOW, last_success=NOW, pending=0)
    assert done.summary(UTC) == "Up to date at 14:30"
    live, down = LiveStatus(state=LinkState.LIVE), LiveStatus(state=LinkState.RECONNECTING)
    assert present.sync_line(done, live, UTC) == "Up to date at 14:30"
    assert present.sync_error(done, live) == "none"
    assert present.sync_line(done, down, UTC) == "Waiting for the server; last reached at 14:30"
    assert present.sync_line(replace(done, pending=1, last_success=None), down, UTC) == (
        "Waiting for the server; 1 minute kept, sent when it answers")
    assert present.sync_error(done, down) == "no connection to the server: retrying"
    refused = LiveStatus(state=LinkState.OFFLINE, refused="this device was revoked")
    assert present.sync_error(done, refused) == "this device was revoked"
    failed = replace(done, last_error="cannot reach the server", unreachable=True, pending=2)
    assert present.sync_line(failed, down, UTC) == f"Last sync failed: cannot reach the server. {KEPT}"
    assert present.sync_error(failed, down) == "cannot reach the server"


def test_counts_agree_with_their_nouns_and_the_preview() -> None:
    assert SyncStatus(last_success=NOW, last_sent=1).summary(UTC) == "Sent 1 minute at 14:30"
    assert SyncStatus(last_success=NOW, last_sent=2).summary(UTC) == "Sent 2 minutes at 14:30"
    assert present.waiting_line(1, 1) == "1 minute"
    assert present.waiting_line(0, 0) == "0 minutes"
    assert present.waiting_line(2, 1) == "2 minutes; the next upload, below, holds 1"
