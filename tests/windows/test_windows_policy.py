"""agent/policy/_windows.py for real: HKLM\\Software\\Policies\\StaffPulse written by Wine's reg.exe with the
types the MSI writes (installer/windows/StaffPulse.wxs: ServerUrl and EnrollToken REG_SZ, IdleThreshold
REG_DWORD), read by ``python -m agent.policy`` (the manual check IT runs) in the Windows Python."""

from __future__ import annotations

import pytest

from support.wine import WinePrefix
from support.wine_desktop import POLICY_KEY as KEY
from support.wine_desktop import write_policy

SECRET = "dk-wine-0123456789abcdef"


def policy_check(wine: WinePrefix) -> tuple[str, str]:
    """What ``python -m agent.policy`` prints, and what it logs."""
    done = wine.python(["-m", "agent.policy"])
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip(), done.stderr


@pytest.fixture
def prefix(running_wine: WinePrefix) -> WinePrefix:
    """The module's prefix with no policy key, as before an install."""
    running_wine.run(["reg", "delete", KEY, "/f"])  # fails harmlessly when there is none
    assert running_wine.run(["reg", "query", KEY]).returncode != 0
    return running_wine


def test_no_policy_key_means_no_policy(prefix: WinePrefix) -> None:
    printed, logged = policy_check(prefix)
    assert printed == (rf"{KEY}: MachinePolicy(server_url=None, idle_threshold_s=None, "
                       "allow_plaintext_token=False) (EnrollToken not set)")
    assert "WARNING" not in logged


def test_values_as_the_msi_writes_them_are_applied(prefix: WinePrefix) -> None:
    write_policy(prefix, {"ServerUrl": ("REG_SZ", "https://pulse.example.com/"), "EnrollToken": ("REG_SZ", SECRET),
                          "IdleThreshold": ("REG_DWORD", "600")})
    printed, logged = policy_check(prefix)
    assert printed == (rf"{KEY}: MachinePolicy(server_url='https://pulse.example.com', idle_threshold_s=600, "
                       "allow_plaintext_token=False) (EnrollToken set)")
    assert "sets server_url, enroll_token, idle_threshold_s" in logged
    assert SECRET not in printed + logged


def test_values_of_the_wrong_type_are_ignored_with_a_warning_each(prefix: WinePrefix) -> None:
    """What agent/policy says: each malformed value is one warning naming it and the key, and only that field
    falls back; the deployment key's value is never shown, even when it is malformed."""
    write_policy(prefix, {"ServerUrl": ("REG_DWORD", "443"),  # a number where text belongs
                          "EnrollToken": ("REG_MULTI_SZ", rf"{SECRET}\0second"),  # a list where text belongs
                          "IdleThreshold": ("REG_SZ", "abc"),  # text that is not a number of seconds
                          "AllowPlaintextToken": ("REG_DWORD", "1")})  # still valid: applied alongside
    printed, logged = policy_check(prefix)
    assert printed == (rf"{KEY}: MachinePolicy(server_url=None, idle_threshold_s=None, "
                       "allow_plaintext_token=True) (EnrollToken not set)")
    warnings = [line for line in logged.splitlines() if line.startswith("WARNING")]
    assert warnings == [
        rf"WARNING policy ServerUrl in {KEY} is malformed (443: must be text, not int); ignoring it",
        rf"WARNING policy EnrollToken in {KEY} is malformed ((hidden): must be text, not list); ignoring it",
        rf"WARNING policy IdleThreshold in {KEY} is malformed ('abc': must be a whole number of seconds, not "
        "'abc'); ignoring it",
    ]
    assert SECRET not in printed + logged
