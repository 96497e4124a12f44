"""The dashboard's rules without Qt (``ui.day_view``, ``ui.last_view``): the strip from a timeline and from the
reader's own minutes, its live present, DST days, the rows members and managers get, sorting, the search box,
the team's totals, the one time zone rule, and the last view kept on disk."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from protocol.schema import MemberDay, MinuteMark, PresenceState, Role, Slot, TeamMember, TeamPublic, Totals
from sync.live import TeamSnapshot
from ui import day_view, last_view
from ui.day_view import Segment, Strip

DAY = date(2026, 11, 25)
ZONE = "Europe/Berlin"
MIDNIGHT = datetime(2026, 11, 24, 23, 0, tzinfo=UTC)  # 25 Nov 00:00 in Berlin (UTC+1)
NOW = MIDNIGHT + timedelta(hours=14, minutes=30)


def minute(index: int, *, active: int = 0, idle: int = 0, break_s: int = 0) -> Slot:
    return Slot(start=MIDNIGHT + timedelta(minutes=index), tracked_s=active + idle + break_s, active_s=active,
                idle_s=idle, break_s=break_s, input_s=0, keys=0, clicks=0, scrolls=0, mouse_px=0)


def member(user_id: int, name: str, state: PresenceState = PresenceState.ACTIVE, *,
           since: datetime | None = NOW - timedelta(minutes=12), totals: Totals | None = None) -> TeamMember:
    return TeamMember(user_id=user_id, name=name, role=Role.MEMBER, state=state, since=since, last_seen=NOW,
                      totals=totals)


def test_segments_are_the_runs_of_one_mark() -> None:
    assert day_view.segments("aab--i") == [Segment(0, 2, MinuteMark.ACTIVE), Segment(2, 1, MinuteMark.BREAK),
                                           Segment(3, 2, MinuteMark.NONE), Segment(5, 1, MinuteMark.IDLE)]
    assert day_view.segments("") == []
    assert sum(s.length for s in day_view.segments("a" * 600 + "-" * 840)) == 1440


def test_a_day_has_its_local_minutes_on_dst_days_too() -> None:
    assert day_view.day_minutes(DAY, ZONE) == 1440
    assert day_view.day_minutes(date(2026, 3, 29), ZONE) == 1380  # clocks forward
    assert day_view.day_minutes(date(2026, 10, 25), ZONE) == 1500  # clocks back
    assert day_view.minute_index(NOW, DAY, ZONE) == 14 * 60 + 30
    assert day_view.minute_index(MIDNIGHT - timedelta(seconds=1), DAY, ZONE) is None
    assert day_view.minute_index(MIDNIGHT + timedelta(days=1), DAY, ZONE) is None
    # 03:30 local on the long day is the 5th hour from midnight (02:00–03:00 happens twice)
    assert day_view.minute_index(datetime(2026, 10, 25, 2, 30, tzinfo=UTC), date(2026, 10, 25), ZONE) == 270


def test_the_own_strip_from_the_own_minutes_marks_how_each_was_mostly_spent() -> None:
    slots = [minute(0, active=60), minute(1, idle=40, active=20), minute(2, break_s=30, idle=30),
             minute(3, active=20, idle=20, break_s=20), minute(5, active=0)]
    timeline = day_view.timeline_from_slots([*slots, minute(1440, active=60)], DAY, ZONE)
    assert len(timeline) == 1440, "the next day's minute is not today's"
    assert timeline[:6] == "aiba--", "ties go to the more present state; a minute with nothing tracked is none"
    assert timeline[6:] == "-" * 1434


def test_the_present_follows_the_live_state_but_never_overwrites_measured_minutes() -> None:
    timeline = "a" * 600 + "-" * 840
    assert day_view.follow_live(timeline, 610, PresenceState.BREAK, 605) == "a" * 600 + "-" * 5 + "b" * 6 + "-" * 829
    assert day_view.follow_live(timeline, 610, PresenceState.BREAK, 0) == "a" * 600 + "b" * 11 + "-" * 829
    assert day_view.follow_live(timeline, 610, PresenceState.AWAY, 0) == timeline, "away counts no minutes"
    assert day_view.follow_live(timeline, 610, PresenceState.PAUSED, 0) == timeline, "a pause records nothing"
    assert day_view.follow_live(timeline, 590, PresenceState.IDLE, 0) == timeline, "uploaded minutes stay"
    assert day_view.follow_live(timeline, None, PresenceState.ACTIVE, 0) == timeline, "another day: no present"


def test_strip_for_a_state_begun_yesterday_fills_the_whole_empty_tail() -> None:
    timeline = "-" * 1440
    strip = day_view.strip_for(timeline, DAY, ZONE, PresenceState.ACTIVE, MIDNIGHT - timedelta(hours=1), NOW)
    assert strip == Strip("a" * 871 + "-" * 569, 870)
    assert day_view.strip_for(None, DAY, ZONE, PresenceState.ACTIVE, NOW, NOW) is None


def test_state_with_its_duration_and_the_words_for_a_view_that_is_not_live() -> None:
    assert day_view.state_words(PresenceState.BREAK, NOW - timedelta(minutes=12, seconds=30), NOW) == "Break · 12 min"
    assert day_view.state_words(PresenceState.OFFLINE, None, NOW) == "Offline"
    assert day_view.state_words(PresenceState.PAUSED, NOW - timedelta(minutes=12), NOW) == "Paused · 12 min"
    assert day_view.as_of(NOW - timedelta(minutes=25), NOW, ZoneInfo(ZONE)) == "as of 14:05"


def test_the_zone_is_named_only_where_it_differs_from_the_pcs() -> None:
    assert day_view.zone_note(ZONE, ZoneInfo("America/New_York"), NOW) == f"Times in {ZONE}"
    assert day_view.zone_note(ZONE, ZoneInfo("Europe/Paris"), NOW) is None, "the same clock needs no note"


def test_members_see_states_and_their_own_strip_managers_everyones() -> None:
    team = [member(1, "Ann"), member(2, "Bo", PresenceState.BREAK), member(3, "Cy")]
    own = Strip("a" * 10 + "-" * 1430, 870)
    seen = day_view.rows(team, me=1, days={}, own_strip=own, own_totals=Totals(active_s=600), refused=False, now=NOW)
    assert [(row.name, row.strip is not None, row.totals is not None, row.own) for row in seen] == [
        ("Ann", True, True, True), ("Bo", False, False, False), ("Cy", False, False, False)]
    assert day_view.team_totals(seen) == (3, None), "a member's own numbers are not the team's"

    day = MemberDay(user_id=2, name="Bo", date=DAY, time_zone=ZONE, totals=Totals(), timeline="a" * 860 + "-" * 580)
    managed = [m.model_copy(update={"totals": Totals(active_s=3600 * (m.user_id), input_s=1800, break_s=600)})
               for m in team]
    rows = day_view.rows(managed, me=1, days={2: day}, own_strip=own, own_totals=None, refused=False, now=NOW)
    bo = rows[1].strip
    assert bo is not None and bo.now == 870 and bo.timeline[860:871] == "b" * 11, "Bo's break since 14:18 local"
    count, totals = day_view.team_totals(rows)
    assert count == 3 and totals is not None and (totals.active_s, totals.break_s) == (6 * 3600, 1800)
    assert totals.activity_pct == round(100 * 5400 / (6 * 3600), 1)
    assert day_view.totals_line(count, totals) == "3 people · active 6 h 00 min · activity 25 % · breaks 30 min"
    assert day_view.totals_line(1, None) == "1 person"


def test_after_a_revoke_the_own_row_is_not_active() -> None:
    rows = day_view.rows([member(1, "Ann"), member(2, "Bo")], me=1, days={}, own_strip=None, own_totals=None,
                         refused=True, now=NOW)
    assert [row.state for row in rows] == [PresenceState.OFFLINE, PresenceState.ACTIVE]


def test_sorting_keys_and_the_search_box() -> None:
    team = [member(1, "bo", PresenceState.IDLE, totals=Totals(active_s=60, activity_pct=80.0)),
            member(2, "Ann", PresenceState.BREAK, totals=Totals(active_s=7200, activity_pct=9.5)),
            member(3, "Cy", PresenceState.ACTIVE, totals=Totals(active_s=600, activity_pct=40.0))]
    rows = day_view.rows(team, me=None, days={}, own_strip=None, own_totals=None, refused=False, now=NOW)

    def by(column: str) -> list[str]:
        return [row.name for row in sorted(rows, key=day_view.SORT_KEYS[column])]

    assert by("Name") == ["Ann", "bo", "Cy"], "names sort without regard to case"
    assert by("State") == ["Cy", "Ann", "bo"], "most present first"
    assert by("Active today") == ["bo", "Cy", "Ann"], "numbers sort as numbers, not as text"
    assert by("Activity") == ["Ann", "Cy", "bo"]
    assert [row.name for row in rows if day_view.matches(row, "break")] == ["Ann"]
    assert [row.name for row in rows if day_view.matches(row, " B ")] == ["bo", "Ann"]
    assert [row.name for row in rows if day_view.matches(row, "")] == ["bo", "Ann", "Cy"]


def test_the_last_view_survives_a_restart_and_a_broken_file_is_no_view(tmp_path: Path) -> None:
    snapshot = TeamSnapshot(team=TeamPublic(id=1, name="T"), members=(member(1, "Ann"),), own_date=DAY,
                            own_totals=Totals(active_s=60), own_slots=(minute(3, active=60),), time_zone=ZONE,
                            updated=NOW)
    assert last_view.load(tmp_path) is None
    last_view.save(tmp_path, last_view.LastView(snapshot, None, 1))
    loaded = last_view.load(tmp_path)
    assert loaded == last_view.LastView(snapshot, None, 1)
    (tmp_path / last_view.FILE_NAME).write_text('{"format": 1, "team": {}}')
    assert last_view.load(tmp_path) is None
