"""The Windows freeze and its MSIs signed as the release signs them (``signed_windows``, ``product_msis``: every
unsigned PE signed by ``installer.sign.sign_folder`` before build_msi packs the folder, then each MSI signed), and
checked by installer.sign's own checks, the ones the release gate runs.

What can be verified here and what cannot: our signatures (StaffPulse.exe and the DLLs and .pyd modules wheels
ship unsigned) chain to the session's throwaway certificate and timestamp authority, so every one of them is
verified in full: signer, and a timestamp by a TSA that verifies. The PEs that came vendor-signed (Microsoft's
runtime, the PSF's Python DLLs, the Qt Company's Qt DLLs) chain to roots Debian's CA bundle lacks (Microsoft's
code-signing roots) or carry certificates expired today whose timestamps chain there too, so osslsigncode cannot
verify them on this machine: the folder check names them, and only them. What is checked of them instead is that
signing left them byte for byte as the wheels shipped them, still carrying the vendor's signature; Windows' own
trust store verifies them in the release's ``windows-lifecycle`` job (``installer.sign --verify-folder`` on
what the MSI installed, signtool).
"""

from __future__ import annotations

from pathlib import Path

from installer import pe, sign
from protocol.version import VERSION
from support.msi_tables import msi_table
from support.signing import SignedFolder, sha256


def expected(certificate: dict[str, str]) -> sign.Expected:
    return sign.Expected.from_environ(certificate)


def test_signing_the_freeze_signs_our_exe_and_every_unsigned_module(signed_windows: SignedFolder,
                                                                   frozen_windows: Path) -> None:
    unsigned_before = {path.relative_to(frozen_windows) for path in sign.unsigned(frozen_windows)}
    assert Path("StaffPulse.exe") in unsigned_before
    assert signed_windows.signed == unsigned_before
    assert not sign.unsigned(signed_windows.folder)


def test_every_pe_but_the_vendor_signed_verifies_with_our_signer_and_timestamp(signed_windows: SignedFolder,
                                                                              certificate: dict[str, str]) -> None:
    """installer.sign's folder check, the release gate's: only vendor-signed files may fail it here (their roots
    are not in Debian's bundle), never a file we signed or should have signed."""
    problems = sign.folder_problems(signed_windows.folder, expected(certificate))
    vendor = {signed_windows.folder / path for path in signed_windows.vendor_signed}
    assert problems.keys() <= vendor, [problems[path] for path in problems.keys() - vendor]
    exe = sign.verify(signed_windows.folder / "StaffPulse.exe", expected(certificate))
    assert exe.signer == certificate["STAFFPULSE_SIGN_SIGNER"]


def test_vendor_signed_pes_are_left_as_the_wheels_shipped_them(signed_windows: SignedFolder) -> None:
    """Against digests taken before signing: the signed copy shares its files with the freeze by hard links."""
    assert signed_windows.vendor_signed, "the freeze carries vendor-signed DLLs (Python's, Qt's, the runtime)"
    for path, digest in signed_windows.vendor_signed.items():
        assert pe.has_signature(signed_windows.folder / path), path
        assert sha256(signed_windows.folder / path) == digest, path


def version(msi: Path) -> tuple[int, ...]:
    return tuple(map(int, dict(msi_table(msi, "Property"))["ProductVersion"].split(".")))


def test_both_msis_are_signed_and_timestamped_the_upgrade_at_a_higher_version(product_msis: dict[str, Path],
                                                                              certificate: dict[str, str]) -> None:
    for msi in product_msis.values():
        assert sign.verify(msi, expected(certificate)).signer == certificate["STAFFPULSE_SIGN_SIGNER"], msi
    assert version(product_msis["release"]) == tuple(map(int, VERSION.split(".")))
    assert version(product_msis["upgrade"]) > version(product_msis["release"])
