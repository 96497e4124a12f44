"""The release chain as far as Linux can run it: the frozen app's self-test under a real X server with a
real Secret Service, the MSI built by wixl from that folder and read back with msiinfo, and Authenticode
signing of that MSI with osslsigncode, a throwaway certificate and a local timestamp authority, where one flipped
byte breaks the signature (tests/installer/test_signing.py covers signing and its checks in full)."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from installer import build_msi, sign
from protocol.version import VERSION
from support.msi_tables import msi_table
from support.signing import TimestampAuthority
from support.xdisplay import need_tool

CHECKS = ("input backend", "idle backend", "keyring backend", "websocket transport", "Qt platform plugin")
UPGRADE_CODE = "{4E5B3F0A-7C1D-4C8E-9A52-3D6F1B2E8C71}"


def self_test(frozen: Path, display: str, home: Path, wrap: Callable[[list[str]], list[str]] | None = None,
              ) -> tuple[int, str]:
    """Run the frozen ``--self-test`` (report to a file, as the windowed Windows app must) with a private
    HOME; ``wrap`` puts it in a desktop session with a Secret Service."""
    report = home / "self-test.txt"
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "DISPLAY": display, "QT_QPA_PLATFORM": "xcb",
           "XDG_RUNTIME_DIR": str(home)}
    command = [str(frozen / "StaffPulse"), "--self-test", str(report)]
    done = subprocess.run(wrap(command) if wrap else command, env=env, capture_output=True, text=True, timeout=60)
    return done.returncode, report.read_text() if report.exists() else done.stdout + done.stderr


def test_frozen_self_test_passes_under_xvfb(frozen: Path, desktop_display: str, tmp_path: Path,
                                            with_secret_service: Callable[[list[str]], list[str]]) -> None:
    status, report = self_test(frozen, desktop_display, tmp_path, with_secret_service)
    assert status == 0, report
    lines = report.splitlines()
    assert [line.split(":")[0] for line in lines[:5]] == [f"ok   {name}" for name in CHECKS], report
    assert "XRecord (pynput.keyboard._xorg" in lines[0] and "XScreenSaverQueryInfo (X11Idle)" in lines[1]
    assert "SecretService" in lines[2]
    assert "xcb" in lines[4] and "system tray found" in lines[4] and lines[-1] == "self-test passed"


def test_frozen_self_test_fails_without_a_keyring(frozen: Path, desktop_display: str, tmp_path: Path) -> None:
    status, report = self_test(frozen, desktop_display, tmp_path)
    assert status == 1, report
    assert "FAIL keyring backend: keyring.backends.fail.Keyring" in report, "the fail backend is not a keyring"
    assert "keyrings.alt" not in report, "the test-only plaintext keyring must not be frozen in"
    assert report.splitlines()[-1] == "self-test failed: 1 of 5 checks"


@pytest.fixture(scope="module")
def msi(frozen: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    need_tool("wixl")
    need_tool("msibuild")
    return build_msi.build_msi(frozen, tmp_path_factory.mktemp("msi") / "StaffPulse.msi")


def test_msi_properties_registry_and_upgrade(msi: Path) -> None:
    properties = dict(msi_table(msi, "Property"))
    assert properties["UpgradeCode"] == UPGRADE_CODE
    assert properties["ALLUSERS"] == "1", "per-machine"
    assert properties["MsiHiddenProperties"] == "ENROLLTOKEN;CmdLineEnrollToken", "the key stays out of MSI logs"
    assert properties["MsiLogging"] == "voicewarmupx", "every run writes a verbose log"
    assert set(properties["SecureCustomProperties"].split(";")) == {
        "SERVERURL", "ENROLLTOKEN", "IDLETHRESHOLD", "WIX_UPGRADE_DETECTED", "WIX_DOWNGRADE_DETECTED"}

    registry = {(row[1], row[2], row[3]): (row[4], row[5]) for row in msi_table(msi, "Registry")}
    hklm, policies = "2", r"Software\Policies\StaffPulse"
    assert registry[(hklm, r"Software\Microsoft\Windows\CurrentVersion\Run", "StaffPulse")] == (
        '"[#MainExe]"', "RunAtLogon")
    assert registry[(hklm, policies, "ServerUrl")][0] == "[SERVERURL]"
    assert registry[(hklm, policies, "EnrollToken")][0] == "[ENROLLTOKEN]"
    assert registry[(hklm, policies, "IdleThreshold")][0] == "#[IDLETHRESHOLD]", "REG_DWORD"
    remembered = r"Software\StaffPulse\Installer"
    for name, prop in (("ServerUrl", "SERVERURL"), ("EnrollToken", "ENROLLTOKEN"), ("IdleThreshold", "IDLETHRESHOLD")):
        assert registry[(hklm, remembered, name)] == (f"[{prop}]", registry[(hklm, policies, name)][1]), (
            "remembered as text, by the policy value's component")
    searches = {row[0]: row[1:] for row in msi_table(msi, "RegLocator")}
    assert {row[0]: searches[row[1]] for row in msi_table(msi, "AppSearch")} == {
        prop: ["2", remembered, name, "18"]  # HKLM, 64-bit raw value
        for name, prop in (("ServerUrl", "SERVERURL"), ("EnrollToken", "ENROLLTOKEN"),
                           ("IdleThreshold", "IDLETHRESHOLD"))}

    components = {row[0]: row for row in msi_table(msi, "Component")}
    for component, prop in build_msi.CONDITIONS.items():
        assert components[component][4] == prop, f"{component} is written only when {prop} is given"
        assert components[component][2] == "INSTALLDIR"
    assert int(components["MainExeComponent"][3]) & 256, "64-bit component"
    files = {row[0]: row for row in msi_table(msi, "File")}
    assert files["MainExe"][2] == "StaffPulse"
    assert len(files) == sum(1 for p in (msi_table(msi, "Component")) if p[0].startswith("c")) + 1

    directories = {row[0]: row for row in msi_table(msi, "Directory")}
    assert directories["INSTALLDIR"][1:] == ["ProgramFiles64Folder", "StaffPulse"]
    upgrades = msi_table(msi, "Upgrade")
    assert sorted((row[0], row[1], row[2], row[4], row[6]) for row in upgrades) == [
        (UPGRADE_CODE, "", VERSION, str(build_msi.UPGRADE_ATTRIBUTES), "WIX_UPGRADE_DETECTED"),
        (UPGRADE_CODE, VERSION, "", "2", "WIX_DOWNGRADE_DETECTED")], "same version upgrades; newer: detect only"
    actions = {row[0] for row in msi_table(msi, "InstallExecuteSequence")}
    assert {"FindRelatedProducts", "AppSearch", "LaunchConditions", "RemoveExistingProducts"} <= actions
    assert msi_table(msi, "LaunchCondition") == [["NOT InvalidProperty", "[InvalidProperty]"]]
    custom = msi_table(msi, "CustomAction")
    assert custom and all(int(row[1]) & 0x3F == 51 for row in custom), "custom actions only set properties: " \
        "the package runs no code, so it cannot touch user data or credentials"
    summary = subprocess.run([need_tool("msiinfo"), "suminfo", str(msi)], capture_output=True, text=True,
                             check=True).stdout
    assert "Template: x64;1033" in summary


def test_payload_ids_are_stable_and_bad_folders_named(tmp_path: Path) -> None:
    (tmp_path / "StaffPulse.exe").write_bytes(b"MZ")
    (tmp_path / "_internal").mkdir()
    (tmp_path / "_internal" / "python311.dll").write_bytes(b"MZ")
    first, second = build_msi.payload_wxs(tmp_path), build_msi.payload_wxs(tmp_path)
    assert first == second
    guid = str(uuid.uuid5(build_msi.GUID_NAMESPACE, "_internal/python311.dll")).upper()
    assert f'Guid="{guid}"' in first and 'File Id="MainExe" Name="StaffPulse.exe"' in first
    (tmp_path / "StaffPulse.exe").unlink()
    with pytest.raises(build_msi.BuildError, match=str(tmp_path)):
        build_msi.payload_wxs(tmp_path)


def test_msi_signed_timestamped_and_a_flipped_byte_fails(msi: Path, certificate: dict[str, str],
                                                       tsa: TimestampAuthority, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    need_tool("osslsigncode")
    package = tmp_path / "StaffPulse.msi"
    shutil.copy(msi, package)
    expected = sign.Expected.from_environ(certificate)
    with pytest.raises(sign.SignError, match=r"StaffPulse\.msi: signature does not verify"):
        sign.verify(package, expected)
    stamped = tsa.requests
    assert sign.main([str(package)], certificate) == 0
    assert tsa.requests == stamped + 1, "signed with a timestamp from the TSA"
    signature = sign.verify(package, expected)
    assert signature.signer == certificate["STAFFPULSE_SIGN_SIGNER"]
    assert abs(signature.timestamp - datetime.now(UTC)) < timedelta(minutes=5)
    assert sign.main(["--verify", str(package)], certificate) == 0
    assert f"StaffPulse.msi: signature verified: signed by {signature.signer}, timestamped" in capsys.readouterr().out

    data = bytearray(package.read_bytes())
    cabinet = data.find(b"MSCF")  # inside the payload stream, which the signature covers
    assert cabinet > 0
    data[cabinet + 4096] ^= 0x01
    package.write_bytes(data)
    assert sign.main(["--verify", str(package)], certificate) == 1
    assert "StaffPulse.msi: signature does not verify" in capsys.readouterr().err
