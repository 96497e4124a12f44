"""IT's policy, read from each OS's source (faked only at the OS boundary: winreg's value lister; the plist
and JSON files are real files at injected paths). A missing value means no policy for it; a malformed one is
a warning naming the key and the source, and never a crash."""

from __future__ import annotations

import dataclasses
import json
import logging
import plistlib
from collections.abc import Mapping
from pathlib import Path

import pytest

from agent.policy import (
    ALLOW_PLAINTEXT_TOKEN,
    ENROLL_TOKEN,
    IDLE_THRESHOLD,
    SERVER_URL,
    MachinePolicy,
    PolicyUnreadable,
    load_policy,
    parse,
    select_source,
)
from agent.policy._linux import PolicyFile
from agent.policy._macos import ManagedPreferences
from agent.policy._windows import KEY, WHERE, RegistryPolicy

FULL = {SERVER_URL: "https://pulse.example.com/", ENROLL_TOKEN: "dk_secret-key", IDLE_THRESHOLD: 600,
        ALLOW_PLAINTEXT_TOKEN: 1}
EXPECTED = MachinePolicy(server_url="https://pulse.example.com", enroll_token="dk_secret-key", idle_threshold_s=600,
                         allow_plaintext_token=True)


def registry(values: Mapping[str, object], seen: list[str] | None = None) -> RegistryPolicy:
    def list_values(key: str) -> Mapping[str, object]:
        if seen is not None:
            seen.append(key)
        return values

    return RegistryPolicy(list_values)


def test_each_os_has_its_source() -> None:
    assert isinstance(select_source("win32"), RegistryPolicy)
    assert select_source("win32").where == r"HKLM\Software\Policies\StaffPulse"
    assert select_source("darwin").where == "/Library/Managed Preferences/com.staffpulse.agent.plist"
    assert select_source("linux").where == "/etc/staffpulse/policy.json"


def test_registry_values_become_policy(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[str] = []
    with caplog.at_level(logging.INFO):
        policy = load_policy(registry(FULL, seen))
    assert policy == EXPECTED
    assert seen == [KEY]
    assert policy.locked == {"server_url", "idle_threshold_s"}
    assert "dk_secret-key" not in caplog.text and "dk_secret-key" not in repr(policy), "the key is a secret"


def test_registry_dword_and_string_numbers() -> None:
    assert load_policy(registry({IDLE_THRESHOLD: "900"})).idle_threshold_s == 900  # REG_SZ from a script


@pytest.mark.parametrize(("value", "allowed"), [(1, True), (0, False), (True, True), (False, False), ("1", True),
                                                ("true", True), ("0", False), ("FALSE", False)])
def test_allow_plaintext_token_as_a_dword_a_boolean_or_text(value: object, allowed: bool) -> None:
    assert load_policy(registry({ALLOW_PLAINTEXT_TOKEN: value})).allow_plaintext_token is allowed
    assert not MachinePolicy(allow_plaintext_token=True).locked, "not a user setting: nothing to lock"


@pytest.mark.parametrize("value", ["yes", 2, 1.0])
def test_a_malformed_allow_plaintext_token_does_not_allow(value: object, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert load_policy(registry({ALLOW_PLAINTEXT_TOKEN: value})).allow_plaintext_token is False
    assert ALLOW_PLAINTEXT_TOKEN in caplog.text and "must be 1 (allowed) or 0" in caplog.text


def test_macos_managed_preferences(tmp_path: Path) -> None:
    path = tmp_path / "com.staffpulse.agent.plist"
    path.write_bytes(plistlib.dumps(FULL))
    assert load_policy(ManagedPreferences(path)) == EXPECTED


def test_linux_policy_file(tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(FULL))
    assert load_policy(PolicyFile(path)) == EXPECTED


def test_no_policy_anywhere_is_no_policy(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    for source in (registry({}), ManagedPreferences(tmp_path / "none.plist"), PolicyFile(tmp_path / "none.json")):
        assert load_policy(source) == MachinePolicy()
        assert load_policy(source).locked == frozenset()
    assert load_policy(registry({SERVER_URL: "", IDLE_THRESHOLD: None})) == MachinePolicy()
    assert caplog.records == []


@pytest.mark.parametrize("key, field, value, words", [
    (SERVER_URL, "server_url", "ftp://pulse.example.com", "must start with https://"),
    (SERVER_URL, "server_url", "http://pulse.example.com", "clear text"),
    (SERVER_URL, "server_url", "http://127.0.0.1.pulse.example.com", "clear text"),
    (SERVER_URL, "server_url", 42, "must be text"),
    (IDLE_THRESHOLD, "idle_threshold_s", "five minutes", "whole number"),
    (IDLE_THRESHOLD, "idle_threshold_s", 5, "between 60 and 3600"),
    (IDLE_THRESHOLD, "idle_threshold_s", True, "whole number"),
    (IDLE_THRESHOLD, "idle_threshold_s", b"\x01\x00", "whole number"),  # REG_BINARY
    (ENROLL_TOKEN, "enroll_token", ["dk_secret-key"], "must be text"),  # REG_MULTI_SZ
])
def test_malformed_value_warns_and_is_ignored(key: str, field: str, value: object, words: str,
                                              caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        policy = parse(FULL | {key: value}, WHERE)
    assert policy == dataclasses.replace(EXPECTED, **{field: None}), "the other values still apply"
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert key in record.message and WHERE in record.message and words in record.message
    assert "dk_secret-key" not in caplog.text


@pytest.mark.parametrize("content", [b"{broken", b"[1, 2]", b"\xff\xfe"])
def test_unreadable_file_warns_and_applies_no_policy(tmp_path: Path, content: bytes,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    for source in (PolicyFile(tmp_path / "policy.json"), ManagedPreferences(tmp_path / "managed.plist")):
        source.path.write_bytes(content)
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            assert load_policy(source) == MachinePolicy()
        [record] = caplog.records
        assert str(source.path) in record.message and "cannot be read" in record.message


def test_registry_errors_warn_and_apply_no_policy(caplog: pytest.LogCaptureFixture) -> None:
    def denied(key: str) -> Mapping[str, object]:
        raise PermissionError(5, "Access is denied")

    with caplog.at_level(logging.WARNING):
        assert load_policy(RegistryPolicy(denied)) == MachinePolicy()
    assert WHERE in caplog.text and "Access is denied" in caplog.text


def test_the_real_registry_exists_only_on_windows() -> None:
    with pytest.raises(PolicyUnreadable, match="only on Windows"):
        RegistryPolicy().read()
