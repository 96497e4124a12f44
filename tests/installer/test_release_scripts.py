"""The release workflow's version gate, run for real: installer.release_version fails when the tag,
protocol/version.py, the exe's version resource (a PE built here by mingw's windres and ld) or the MSI's
ProductVersion (built here by wixl) disagree. The signing gate (installer.sign) is in test_signing.py."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from installer import build_msi, release_version
from protocol.version import VERSION
from support.xdisplay import need_tool

VERSION_RC = """\
1 VERSIONINFO
FILEVERSION {commas}
PRODUCTVERSION {commas}
BEGIN
  BLOCK "StringFileInfo"
  BEGIN
    BLOCK "040904B0"
    BEGIN
      VALUE "FileVersion", "{version}"
      VALUE "ProductName", "StaffPulse"
      VALUE "ProductVersion", "{version}"
    END
  END
  BLOCK "VarFileInfo"
  BEGIN
    VALUE "Translation", 0x409, 1200
  END
END
"""


def pe_with_version(folder: Path, version: str) -> Path:
    """A real PE DLL whose only content is a VERSIONINFO resource saying ``version``, as the spec writes one."""
    folder.mkdir(parents=True, exist_ok=True)
    numbers = (version.split(".") + ["0"] * 4)[:4]
    (folder / "version.rc").write_text(VERSION_RC.format(commas=",".join(numbers), version=version))
    subprocess.run([need_tool("x86_64-w64-mingw32-windres"), "version.rc", "-O", "coff", "-o", "version.o"],
                   cwd=folder, check=True, capture_output=True, timeout=60)
    subprocess.run([need_tool("x86_64-w64-mingw32-ld"), "--dll", "-e", "0", "-o", "StaffPulse.exe", "version.o"],
                   cwd=folder, check=True, capture_output=True, timeout=60)
    return folder / "StaffPulse.exe"


def test_the_tag_must_be_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert release_version.main(["--tag", f"v{VERSION}"]) == 0
    assert capsys.readouterr().out == f"{VERSION}\n", "the workflow reads the version from here"
    major, minor, patch = map(int, VERSION.split("."))
    newer = f"v{major}.{minor}.{patch + 1}"
    assert release_version.main(["--tag", newer]) == 1
    assert f"tag {newer} says {newer[1:]}, protocol/version.py says {VERSION}" in capsys.readouterr().err
    for tag in (VERSION, f"v{VERSION}-rc1", f"release-{VERSION}"):
        assert release_version.main(["--tag", tag]) == 1
        assert "is not a release tag vMAJOR.MINOR.PATCH" in capsys.readouterr().err


@pytest.mark.parametrize("version", ["1.2", "1.2.3.4", "256.0.0", "1.0.65536", "1.0.x"])
def test_versions_windows_installer_cannot_compare_are_refused(version: str) -> None:
    assert release_version.disagreements(version, None, None, None) == [
        f"version {version!r} is not MAJOR.MINOR.PATCH within 255.255.65535 (Windows Installer)"]


def test_the_exe_version_resource_must_agree(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    same, other = pe_with_version(tmp_path / "same", VERSION), pe_with_version(tmp_path / "other", "9.8.7")
    assert release_version.exe_version(same) == VERSION
    assert release_version.main(["--tag", f"v{VERSION}", "--exe", str(same)]) == 0
    capsys.readouterr()
    assert release_version.main(["--exe", str(other)]) == 1
    assert f"StaffPulse.exe version resource says 9.8.7, protocol/version.py says {VERSION}" in capsys.readouterr().err
    (tmp_path / "plain.exe").write_bytes(b"MZ" + b"\0" * 200)
    assert release_version.main(["--exe", str(tmp_path / "plain.exe")]) == 1
    assert "plain.exe: no ProductVersion in a version resource" in capsys.readouterr().err


def test_the_msi_product_version_must_agree(windows_payload: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    need_tool("wixl")
    same = build_msi.build_msi(windows_payload, tmp_path / "same" / "StaffPulse.msi")
    other = build_msi.build_msi(windows_payload, tmp_path / "other" / "StaffPulse.msi", version="9.8.7")
    assert release_version.main(["--tag", f"v{VERSION}", "--msi", str(same)]) == 0
    capsys.readouterr()
    assert release_version.main(["--tag", f"v{VERSION}", "--msi", str(other)]) == 1
    assert f"StaffPulse.msi ProductVersion says 9.8.7, protocol/version.py says {VERSION}" in capsys.readouterr().err
