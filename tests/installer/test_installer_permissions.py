"""macOS's Accessibility / Input Monitoring check, faked at the ApplicationServices / IOKit boundary, and the
pure logic the first-run prompt uses."""

from __future__ import annotations

import pytest

from agent.permissions import AlwaysGranted, Permission, missing, prompt_text, select_checker
from agent.permissions._macos import GRANTED, LISTEN_EVENT, PANES, MacPermissions


class Native:
    """Stands in for AXIsProcessTrusted, IOHIDCheckAccess and IOHIDRequestAccess, and records the calls."""

    def __init__(self, *, trusted: bool, hid_access: int, prompt_shown: bool) -> None:
        self.trusted, self.hid_access, self.prompt_shown = trusted, hid_access, prompt_shown
        self.calls: list[tuple[str, object]] = []

    def checker(self) -> MacPermissions:
        return MacPermissions(self._ax, self._check, self._request, lambda url: self.calls.append(("open", url)))

    def _ax(self) -> bool:
        return self.trusted

    def _check(self, kind: int) -> int:
        self.calls.append(("check", kind))
        return self.hid_access

    def _request(self, kind: int) -> bool:
        self.calls.append(("request", kind))
        return self.prompt_shown


def test_all_granted_means_no_prompt() -> None:
    native = Native(trusted=True, hid_access=GRANTED, prompt_shown=False)
    assert missing(native.checker()) == []
    assert native.calls == [("check", LISTEN_EVENT)]
    assert prompt_text([]) == ""


@pytest.mark.parametrize("hid_access", [1, 2])  # denied, not asked yet
def test_missing_permissions_are_named_and_requested(hid_access: int) -> None:
    native = Native(trusted=False, hid_access=hid_access, prompt_shown=True)
    checker = native.checker()
    absent = missing(checker)
    assert absent == [Permission.ACCESSIBILITY, Permission.INPUT_MONITORING]
    text = prompt_text(absent)
    assert "Accessibility and Input Monitoring" in text and "never which keys" in text
    native.calls.clear()
    checker.request(Permission.INPUT_MONITORING)  # the system shows its own prompt
    checker.request(Permission.ACCESSIBILITY)  # no system prompt without CoreFoundation: the settings pane
    assert native.calls == [("request", LISTEN_EVENT), ("open", PANES[Permission.ACCESSIBILITY])]


def test_input_monitoring_pane_opens_when_the_system_prompt_was_used_up() -> None:
    native = Native(trusted=True, hid_access=1, prompt_shown=False)
    native.checker().request(Permission.INPUT_MONITORING)
    assert native.calls[-1] == ("open", PANES[Permission.INPUT_MONITORING])


def test_other_systems_need_no_permission() -> None:
    for system in ("win32", "linux"):
        checker = select_checker(system)
        assert isinstance(checker, AlwaysGranted) and missing(checker) == []


def test_loading_the_mac_frameworks_elsewhere_is_an_os_error() -> None:
    with pytest.raises(OSError):
        select_checker("darwin")
