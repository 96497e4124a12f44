"""Authenticode signing and its checks on real Windows PE files (pip's distlib launcher stubs, PE32 and PE32+),
with a throwaway certificate and a real RFC 3161 timestamp authority on loopback (tests/support/signing.py).

``osslsigncode verify`` exits 0 for a signature whose timestamp is missing or untrusted, so each of those is
made for real here and must be refused; the MSI's signing is in test_installer_build.py."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from installer import pe, sign
from support.signing import TimestampAuthority, launcher_stub, make_certificate
from support.xdisplay import need_tool

VENDOR = "Vendor Test Signing"


def osslsigncode_verify(path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([need_tool("osslsigncode"), "verify", "-in", str(path), "-CAfile", env["STAFFPULSE_SIGN_CA"],
                           "-TSA-CAfile", env["STAFFPULSE_SIGN_TSA_CA"]], capture_output=True, text=True, timeout=60)


def sign_without_timestamp(path: Path, env: dict[str, str]) -> None:
    """Sign as a build without a TSA would: osslsigncode itself accepts that."""
    signed = path.with_suffix(".signed")
    subprocess.run([need_tool("osslsigncode"), "sign", "-pkcs12", env["STAFFPULSE_SIGN_PFX"], "-pass", "throwaway",
                    "-h", "sha256", "-in", str(path), "-out", str(signed)], check=True, capture_output=True, timeout=60)
    signed.replace(path)


@pytest.fixture
def exe(tmp_path: Path) -> Path:
    copy = tmp_path / "StaffPulse.exe"
    shutil.copy(launcher_stub("w64.exe"), copy)
    return copy


@pytest.fixture
def expected(certificate: dict[str, str]) -> sign.Expected:
    need_tool("osslsigncode")
    return sign.Expected.from_environ(certificate)


def test_pe_files_are_found_by_their_headers_not_their_names(tmp_path: Path) -> None:
    (tmp_path / "_internal").mkdir()
    pes = [tmp_path / "StaffPulse.exe", tmp_path / "_internal" / "module.pyd", tmp_path / "_internal" / "no-extension"]
    shutil.copy(launcher_stub("w64.exe"), pes[0])
    shutil.copy(launcher_stub("t32.exe"), pes[1])
    shutil.copy(launcher_stub("w64.exe"), pes[2])
    image = launcher_stub("w64.exe").read_bytes()
    header = int.from_bytes(image[0x3C:0x40], "little")
    pes.append(tmp_path / "_internal" / "long-stub.dll")  # the PE header far past the first page
    pes[-1].write_bytes(image[:0x3C] + (8192).to_bytes(4, "little") + bytes(8192 - 0x40) + image[header:])
    (tmp_path / "_internal" / "text.dll").write_bytes(b"MZ" + b"\0" * 58 + (64).to_bytes(4, "little") + b"PX\0\0")
    (tmp_path / "_internal" / "short.dll").write_bytes(b"MZ")
    (tmp_path / "_internal" / "base_library.zip").write_bytes(b"PK\3\4" + b"\0" * 100)
    assert list(pe.pe_files(tmp_path)) == sorted(pes)
    assert not any(pe.has_signature(path) for path in pes)
    truncated = tmp_path / "_internal" / "truncated.dll"
    truncated.write_bytes(image[:header + 30])
    assert pe.is_pe(truncated)
    assert sign.folder_problems(tmp_path, sign.Expected("x"))[truncated] == (
        f"{truncated}: truncated or unknown PE optional header")


def test_sign_timestamps_with_the_tsa_and_verify_reports_signer_and_time(
        exe: Path, certificate: dict[str, str], expected: sign.Expected, tsa: TimestampAuthority) -> None:
    before = tsa.requests
    signature = sign.sign(exe, (cert := sign.Certificate(certificate)), expected)
    cert.close()
    assert tsa.requests == before + 1
    assert pe.has_signature(exe)
    assert signature == sign.verify(exe, expected)
    assert signature.signer == "StaffPulse Test Signing"
    assert abs(signature.timestamp - datetime.now(UTC)) < timedelta(minutes=5)
    with pytest.raises(sign.SignError, match=r"StaffPulse\.exe: signed by 'StaffPulse Test Signing', expected 'Other'"):
        sign.verify(exe, sign.Expected("Other", expected.ca, expected.tsa_ca))


def test_a_signature_without_timestamp_is_refused_though_osslsigncode_passes_it(
        exe: Path, certificate: dict[str, str], expected: sign.Expected) -> None:
    sign_without_timestamp(exe, certificate)
    raw = osslsigncode_verify(exe, certificate)
    assert raw.returncode == 0 and "Timestamp is not available" in raw.stdout, "the reason we parse the report"
    with pytest.raises(sign.SignError, match=r"StaffPulse\.exe: the signature has no timestamp"):
        sign.verify(exe, expected)


def test_an_untrusted_timestamp_is_refused_though_osslsigncode_passes_it(
        exe: Path, certificate: dict[str, str], expected: sign.Expected) -> None:
    sign.main([str(exe)], certificate)
    untrusted = dict(certificate, STAFFPULSE_SIGN_TSA_CA=certificate["STAFFPULSE_SIGN_CA"])  # not the TSA's root
    raw = osslsigncode_verify(exe, untrusted)
    assert raw.returncode == 0 and "Timestamp Server Signature verification: failed" in raw.stdout
    with pytest.raises(sign.SignError, match=r"StaffPulse\.exe: the timestamp does not verify"):
        sign.verify(exe, sign.Expected.from_environ(untrusted))
    assert sign.verify(exe, expected).signer == expected.signer


def test_signing_fails_and_leaves_the_file_when_the_tsa_fails(
        exe: Path, certificate: dict[str, str], tsa: TimestampAuthority, capsys: pytest.CaptureFixture[str]) -> None:
    original = exe.read_bytes()
    tsa.failing = True
    try:
        assert sign.main([str(exe)], certificate) == 1
    finally:
        tsa.failing = False
    assert f"osslsigncode sign {exe} failed" in capsys.readouterr().err
    assert exe.read_bytes() == original and not list(exe.parent.glob("*.signing"))


def test_sign_needs_a_certificate_and_a_signer(exe: Path, certificate: dict[str, str],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert sign.main([str(exe)], {"STAFFPULSE_SIGN_SIGNER": "x"}) == 1
    assert "set STAFFPULSE_SIGN_PFX" in capsys.readouterr().err
    assert sign.main([str(exe)], {"STAFFPULSE_SIGN_SIGNER": "x", "STAFFPULSE_SIGN_PFX_BASE64": "not base64!"}) == 1
    assert "STAFFPULSE_SIGN_PFX_BASE64 is not valid base64" in capsys.readouterr().err
    no_signer = {key: value for key, value in certificate.items() if key != "STAFFPULSE_SIGN_SIGNER"}
    assert sign.main(["--verify", str(exe)], no_signer) == 1
    assert "set STAFFPULSE_SIGN_SIGNER" in capsys.readouterr().err
    assert not pe.has_signature(exe)


@pytest.fixture
def vendor(tmp_path: Path, certificate: dict[str, str]) -> Iterator[tuple[sign.Certificate, Path]]:
    """Another publisher's certificate (as on a DLL a wheel ships signed), timestamped by the same TSA, and the
    PEM that trusts it."""
    pfx, pem = make_certificate(tmp_path, VENDOR)
    cert = sign.Certificate(dict(certificate, STAFFPULSE_SIGN_PFX=str(pfx)))
    yield cert, pem
    cert.close()


def test_sign_folder_signs_every_unsigned_pe_and_the_folder_check_names_the_rest(
        tmp_path: Path, certificate: dict[str, str], vendor: tuple[sign.Certificate, Path],
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    need_tool("osslsigncode")
    roots = tmp_path / "roots.pem"  # the machine trusts both publishers
    roots.write_text(Path(certificate["STAFFPULSE_SIGN_CA"]).read_text() + vendor[1].read_text())
    env = dict(certificate, STAFFPULSE_SIGN_CA=str(roots))
    folder, internal = tmp_path / "StaffPulse", tmp_path / "StaffPulse" / "_internal"
    internal.mkdir(parents=True)
    shutil.copy(launcher_stub("t32.exe"), internal / "unsigned.pyd")
    shutil.copy(launcher_stub("w64.exe"), internal / "no-extension")
    shutil.copy(launcher_stub("t64.exe"), internal / "python3.dll")
    sign.sign(internal / "python3.dll", vendor[0], sign.Expected(VENDOR, str(roots), env["STAFFPULSE_SIGN_TSA_CA"]))
    vendor_signed = (internal / "python3.dll").read_bytes()
    (internal / "base_library.zip").write_bytes(b"PK\3\4" + b"\0" * 100)

    assert sign.main(["--verify-folder", str(folder)], env) == 1
    missing = f"{folder / 'StaffPulse.exe'}: missing (is this the Windows build?)"
    assert capsys.readouterr().err.splitlines()[0] == missing
    shutil.copy(launcher_stub("w64.exe"), folder / "StaffPulse.exe")
    assert sign.main(["--verify-folder", str(folder)], env) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"{folder / 'StaffPulse.exe'}: not signed", f"{internal / 'no-extension'}: not signed",
        f"{internal / 'unsigned.pyd'}: not signed"]
    monkeypatch.chdir(tmp_path)
    assert sign.main(["--list-unsigned", "StaffPulse"], {}) == 0
    assert capsys.readouterr().out.splitlines() == [  # absolute: release.yml's Azure step signs this list
        str(folder / "StaffPulse.exe"), str(internal / "no-extension"), str(internal / "unsigned.pyd")]

    assert sign.main(["--sign-folder", str(folder)], env) == 0
    assert "signed 3 PE file(s): StaffPulse.exe, no-extension, unsigned.pyd" in capsys.readouterr().out
    assert (internal / "python3.dll").read_bytes() == vendor_signed, "a vendor's signature is kept"
    expected = sign.Expected.from_environ(env)
    assert {sign.verify(path, expected).signer for path in pe.pe_files(internal) if path.name != "python3.dll"} == {
        "StaffPulse Test Signing"}
    assert sign.main(["--verify-folder", str(folder)], env) == 0
    assert "every PE file is signed, timestamped and verified" in capsys.readouterr().out
    assert sign.main(["--list-unsigned", str(folder)], {}) == 0
    assert capsys.readouterr().out == "", "nothing left to sign"
    assert sign.main(["--verify-folder", str(folder)], dict(env, STAFFPULSE_SIGN_CA="")) == 1
    assert "signature does not verify" in capsys.readouterr().err, "a self-signed root is not trusted by default"
    assert sign.main(["--verify-folder", str(tmp_path / "nowhere")], env) == 1
    assert f"{tmp_path / 'nowhere'}: no such folder" in capsys.readouterr().err

    shutil.copy(internal / "python3.dll", folder / "StaffPulse.exe")  # our exe must be ours
    shutil.copy(launcher_stub("t64.exe"), internal / "late.dll")
    sign_without_timestamp(internal / "late.dll", env)
    assert sign.main(["--verify-folder", str(folder)], env) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"{folder / 'StaffPulse.exe'}: signed by '{VENDOR}', expected 'StaffPulse Test Signing'",
        f"{internal / 'late.dll'}: the signature has no timestamp, so it expires with its certificate"]
