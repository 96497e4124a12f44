"""The agent's settings file: round trip, and a broken file names the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.settings import FILE_NAME, AgentSettings, SettingsError, load, save


def test_round_trip_and_defaults(tmp_path: Path) -> None:
    assert load(tmp_path) == AgentSettings()
    save(tmp_path, AgentSettings(server_url="https://pulse.example.com/", idle_threshold_s=120))
    assert load(tmp_path) == AgentSettings(server_url="https://pulse.example.com", idle_threshold_s=120)
    assert [p.name for p in tmp_path.iterdir()] == [FILE_NAME], "no temporary file left behind"


@pytest.mark.parametrize("content, field", [
    ('{"server_url": "ftp://x"}', "server_url"),
    ('{"idle_threshold_s": 5}', "idle_threshold_s"),
    ('{"colour": "red"}', "colour"),
    ("{not json", "file"),
])
def test_broken_file_names_file_and_field(tmp_path: Path, content: str, field: str) -> None:
    (tmp_path / FILE_NAME).write_text(content)
    with pytest.raises(SettingsError) as refused:
        load(tmp_path)
    assert str(refused.value).startswith(f"{tmp_path / FILE_NAME}: {field}:")
