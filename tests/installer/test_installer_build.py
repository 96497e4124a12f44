"""The release chain as far as Linux can run it: the frozen app's self-test under a real X server with a
real Secret Service, the MSI built by wixl from that folder and read back with msiinfo, and Authenticode
signing with osslsigncode and a throwaway certificate, where one flipped byte breaks the signature."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Callable
from importlib.util import find_spec
from pathlib import Path

import pytest

from installer import build_msi, sign
from protocol.version import VERSION
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


def test_frozen_self_test_passes_under_xvfb(frozen: Path, x_display: str, tmp_path: Path,
                                            with_secret_service: Callable[[list[str]], list[str]]) -> None:
    status, report = self_test(frozen, x_display, tmp_path, with_secret_service)
    assert status == 0, report
    lines = report.splitlines()
    assert [line.split(":")[0] for line in lines[:5]] == [f"ok   {name}" for name in CHECKS], report
    assert "XRecord (pynput.keyboard._xorg" in lines[0] and "XScreenSaverQueryInfo (X11Idle)" in lines[1]
    assert "SecretService" in lines[2]
    assert "xcb" in lines[4] and lines[-1] == "self-test passed"


def test_frozen_self_test_fails_without_a_keyring(frozen: Path, x_display: str, tmp_path: Path) -> None:
    status, report = self_test(frozen, x_display, tmp_path)
    assert status == 1, report
    assert "FAIL keyring backend: keyring.backends.fail.Keyring" in report, "the fail backend is not a keyring"
    assert "keyrings.alt" not in report, "the test-only plaintext keyring must not be frozen in"
    assert report.splitlines()[-1] == "self-test failed: 1 of 5 checks"


def msi_table(msi: Path, table: str) -> list[list[str]]:
    """The rows of ``table`` (msiinfo export's three header lines dropped)."""
    out = subprocess.run([need_tool("msiinfo"), "export", str(msi), table], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    return [line.split("\t") for line in out.splitlines()[3:]]


@pytest.fixture(scope="module")
def msi(frozen: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    need_tool("wixl")
    need_tool("msibuild")
    return build_msi.build_msi(frozen, tmp_path_factory.mktemp("msi") / "StaffPulse.msi")


def test_msi_properties_registry_and_upgrade(msi: Path) -> None:
    properties = dict(msi_table(msi, "Property"))
    assert properties["UpgradeCode"] == UPGRADE_CODE
    assert properties["ALLUSERS"] == "1", "per-machine"
    assert properties["MsiHiddenProperties"] == "ENROLLTOKEN", "the deployment key stays out of MSI logs"
    assert set(properties["SecureCustomProperties"].split(";")) == {
        "SERVERURL", "ENROLLTOKEN", "IDLETHRESHOLD", "WIX_UPGRADE_DETECTED", "WIX_DOWNGRADE_DETECTED"}

    registry = {(row[1], row[2], row[3]): (row[4], row[5]) for row in msi_table(msi, "Registry")}
    hklm, policies = "2", r"Software\Policies\StaffPulse"
    assert registry[(hklm, r"Software\Microsoft\Windows\CurrentVersion\Run", "StaffPulse")] == (
        '"[#MainExe]"', "RunAtLogon")
    assert registry[(hklm, policies, "ServerUrl")][0] == "[SERVERURL]"
    assert registry[(hklm, policies, "EnrollToken")][0] == "[ENROLLTOKEN]"
    assert registry[(hklm, policies, "IdleThreshold")][0] == "#[IDLETHRESHOLD]", "REG_DWORD"

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
    assert [(row[0], row[1], row[2], row[6]) for row in upgrades] == [
        (UPGRADE_CODE, "", VERSION, "WIX_UPGRADE_DETECTED"),
        (UPGRADE_CODE, VERSION, "", "WIX_DOWNGRADE_DETECTED")]
    actions = {row[0] for row in msi_table(msi, "InstallExecuteSequence")}
    assert {"FindRelatedProducts", "RemoveExistingProducts"} <= actions
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


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A throwaway self-signed code-signing certificate, as the environment that sign.py reads."""
    folder = tmp_path_factory.mktemp("cert")
    openssl = need_tool("openssl")
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=StaffPulse Test Signing", "-addext", "extendedKeyUsage=codeSigning",
                    "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem")],
                   check=True, capture_output=True, timeout=60)
    subprocess.run([openssl, "pkcs12", "-export", "-inkey", str(folder / "key.pem"), "-in", str(folder / "cert.pem"),
                    "-out", str(folder / "cert.pfx"), "-passout", "pass:throwaway"],
                   check=True, capture_output=True, timeout=60)
    return {"STAFFPULSE_SIGN_PFX": str(folder / "cert.pfx"), "STAFFPULSE_SIGN_PASSWORD": "throwaway",
            "STAFFPULSE_SIGN_CA": str(folder / "cert.pem")}


def windows_stub() -> Path:
    """A real Windows PE: the GUI launcher stub that pip's distlib ships (our own exe exists only on Windows)."""
    spec = find_spec("pip")
    assert spec is not None and spec.submodule_search_locations
    stub = Path(spec.submodule_search_locations[0]) / "_vendor" / "distlib" / "w64.exe"
    assert stub.read_bytes()[:2] == b"MZ"
    return stub


def test_sign_exe_then_msi_and_a_flipped_byte_fails(msi: Path, certificate: dict[str, str], tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    need_tool("osslsigncode")
    exe, package = tmp_path / "StaffPulse.exe", tmp_path / "StaffPulse.msi"
    shutil.copy(windows_stub(), exe)
    shutil.copy(msi, package)
    assert sign.main(["--verify", str(exe)], certificate) == 1, "unsigned: verification fails"
    assert sign.main([str(exe)], certificate) == 0
    assert sign.main([str(package)], certificate) == 0
    assert sign.main(["--verify", str(exe), str(package)], certificate) == 0
    assert "StaffPulse.msi: signature verified" in capsys.readouterr().out
    assert sign.main(["--verify", str(package)], {}) == 1, "a self-signed root is not trusted by default"

    data = bytearray(package.read_bytes())
    cabinet = data.find(b"MSCF")  # inside the payload stream, which the signature covers
    assert cabinet > 0
    data[cabinet + 4096] ^= 0x01
    package.write_bytes(data)
    assert sign.main(["--verify", str(package)], certificate) == 1
    assert "osslsigncode verify StaffPulse.msi failed" in capsys.readouterr().err


def test_sign_needs_a_certificate_from_the_environment(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    exe = tmp_path / "StaffPulse.exe"
    shutil.copy(windows_stub(), exe)
    assert sign.main([str(exe)], {}) == 1
    assert "set STAFFPULSE_SIGN_PFX" in capsys.readouterr().err
    assert sign.main([str(exe)], {"STAFFPULSE_SIGN_PFX_BASE64": "not base64!"}) == 1
    assert "STAFFPULSE_SIGN_PFX_BASE64 is not valid base64" in capsys.readouterr().err
