"""Files the agent rewrites (its settings, the window's preferences) are replaced whole and synced to the disk:
a crash or a failed write leaves the old file, never a half-written or empty one (``agent.atomic``)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.atomic import write_atomically
from sync import settings
from ui import preferences


def test_a_write_replaces_the_file_whole_and_privately(tmp_path: Path) -> None:
    target = tmp_path / "settings.json"
    target.write_text("old")
    write_atomically(target, "new")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["settings.json"], "no temporary file left behind"
    assert oct(target.stat().st_mode & 0o777) == "0o600"


def test_a_failed_write_keeps_the_old_file_and_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "ui.json"
    target.write_text("old")
    with pytest.raises(UnicodeEncodeError):
        write_atomically(target, "half \ud800 written")  # fails inside the write, after the file was created
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["ui.json"]


def save_settings(folder: Path) -> bool:
    settings.save(folder, settings.AgentSettings(idle_threshold_s=120))
    return settings.load(folder).idle_threshold_s == 120


def save_preferences(folder: Path) -> bool:
    preferences.save(folder, preferences.Preferences(notify_breaks=False))
    return preferences.load(folder).notify_breaks is False


#: Each saves a non-default value and says whether it reads back.
SAVES: dict[str, Callable[[Path], bool]] = {"settings": save_settings, "preferences": save_preferences}


@pytest.mark.parametrize("name", sorted(SAVES))
def test_the_data_reaches_the_disk_before_the_rename(tmp_path: Path, name: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The real fsync and rename run; the spy only records their order and what each was given."""
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(descriptor: int) -> None:
        events.append("fsync folder" if os.path.isdir(f"/proc/self/fd/{descriptor}") else "fsync file")
        real_fsync(descriptor)

    def replace(source: str, target: os.PathLike[str] | str) -> None:
        events.append("rename")
        real_replace(source, target)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    assert SAVES[name](tmp_path)
    assert events == ["fsync file", "rename", "fsync folder"]
