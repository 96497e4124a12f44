"""What a verifier's report says about one file's Authenticode signature, read into a ``Signature``.

The verifiers' exit codes are not enough: ``osslsigncode verify`` exits 0 when the signature is good but its
timestamp is missing or fails to verify, and an untimestamped signature dies with its certificate. So the
report is parsed, and a signature counts only when all three hold for the primary signature:

- the signature itself verifies (osslsigncode: a line ``Signature verification: ok``);
- it carries an RFC 3161 timestamp that verifies (osslsigncode: ``Timestamp Server Signature verification:
  ok``; it prints ``Timestamp is not available`` when there is none, ``Timestamp Server Signature
  verification: failed`` when the TSA's signature or chain does not verify);
- the signer's certificate names the expected signer (its CN).

The osslsigncode lines are the same in 2.5 (Debian 12) and 2.9 (bookworm-backports); only the timestamp's
time line differs (2.5: ``The signature is timestamped: <time>``, 2.9: ``Timestamp time: <time>``). signtool
(Windows) fails on a broken timestamp itself and prints ``File is not timestamped.`` or ``The signature is
timestamped: <local time>``, and the signing chain root first, so the signer is the chain's last ``Issued to``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path


class SignError(Exception):
    """Signing or verification failed; the message names the file and the reason."""


@dataclass(frozen=True)
class Signature:
    """A verified, timestamped signature: the signer's CN and when the TSA says it was made."""

    signer: str
    timestamp: datetime


OSSL_OK = "Signature verification: ok"
OSSL_TIMESTAMP_OK = "Timestamp Server Signature verification: ok"
OSSL_TIMESTAMP_FAILED = "Timestamp Server Signature verification: failed"
OSSL_NO_TIMESTAMP = "Timestamp is not available"
OSSL_TIMESTAMP_TIME = ("The signature is timestamped: ", "Timestamp time: ")  # 2.5, 2.9
OSSL_SIGNER_SECTION = "Signer's certificate:"
SIGNTOOL_NO_TIMESTAMP = "File is not timestamped."
SIGNTOOL_TIMESTAMP_TIME = "The signature is timestamped: "
SIGNTOOL_CHAIN = "Signing Certificate Chain:"
SIGNTOOL_ISSUED_TO = "Issued to: "
#: Lines of an osslsigncode report that say why a signature failed, shown in the error.
_OSSL_REASONS = ("No signature found", "MISMATCH", "Error:", "verification: failed")


def _common_name(subject: str) -> str:
    """The CN of an OpenSSL one-line subject (``/O=Acme/CN=Acme Ltd``); the whole subject if it has none."""
    found = re.search(r"/CN=(.*?)(?=/[A-Za-z][A-Za-z0-9.]*=|$)", subject)
    return found.group(1) if found else subject


def _after(lines: list[str], prefixes: tuple[str, ...]) -> str | None:
    for line in lines:
        for prefix in prefixes:
            if line.startswith(prefix):
                return line[len(prefix):].strip()
    return None


def _time(path: Path, text: str, layout: str) -> datetime:
    try:
        return datetime.strptime(text, layout)
    except ValueError:
        raise SignError(f"{path}: unreadable timestamp time {text!r}") from None


def _check_signer(path: Path, signer: str | None, expected: str | None) -> str:
    if signer is None:
        raise SignError(f"{path}: the report names no signer")
    if expected is not None and signer != expected:
        raise SignError(f"{path}: signed by {signer!r}, expected {expected!r}")
    return signer


def parse_osslsigncode(path: Path, report: str, returncode: int, expected_signer: str | None) -> Signature:
    """The primary signature in ``osslsigncode verify``'s report; ``SignError`` naming ``path`` unless it
    verifies, is timestamped by a TSA that verifies, and (when given) names ``expected_signer``."""
    primary = report.split("Signature Index: 1")[0]  # nested signatures (dual signing) follow the primary one
    lines = [line.strip() for line in primary.splitlines()]
    if returncode != 0 or OSSL_OK not in lines:
        reasons = [line for line in lines if any(word in line for word in _OSSL_REASONS)]
        raise SignError(f"{path}: signature does not verify: {'; '.join(reasons or lines[-1:])}")
    if OSSL_NO_TIMESTAMP in lines:
        raise SignError(f"{path}: the signature has no timestamp, so it expires with its certificate")
    if OSSL_TIMESTAMP_FAILED in lines or OSSL_TIMESTAMP_OK not in lines:
        raise SignError(f"{path}: the timestamp does not verify (its TSA is not trusted, or it was altered)")
    section = lines.index(OSSL_SIGNER_SECTION) if OSSL_SIGNER_SECTION in lines else len(lines)
    subject = _after(lines[section:], ("Subject:",))
    signer = _check_signer(path, _common_name(subject) if subject else None, expected_signer)
    when = _after(lines, OSSL_TIMESTAMP_TIME)
    if when is None:
        raise SignError(f"{path}: the report gives no timestamp time")
    return Signature(signer, _time(path, when, "%b %d %H:%M:%S %Y GMT").replace(tzinfo=UTC))


def parse_signtool(path: Path, report: str, returncode: int, expected_signer: str | None) -> Signature:
    """The same for ``signtool verify /pa /v``: it exits non-zero for a broken signature or timestamp."""
    lines = [line.strip() for line in report.splitlines()]
    if returncode != 0:
        raise SignError(f"{path}: signature does not verify: {' '.join(lines[-3:])}")
    if SIGNTOOL_NO_TIMESTAMP in lines:
        raise SignError(f"{path}: the signature has no timestamp, so it expires with its certificate")
    when = _after(lines, (SIGNTOOL_TIMESTAMP_TIME,))
    if when is None or SIGNTOOL_CHAIN not in lines:
        raise SignError(f"{path}: the report gives no signing chain or timestamp")
    chain = lines[lines.index(SIGNTOOL_CHAIN):lines.index(f"{SIGNTOOL_TIMESTAMP_TIME}{when}")]
    issued = [line[len(SIGNTOOL_ISSUED_TO):].strip() for line in chain if line.startswith(SIGNTOOL_ISSUED_TO)]
    signer = _check_signer(path, issued[-1] if issued else None, expected_signer)
    return Signature(signer, _time(path, when, "%a %b %d %H:%M:%S %Y").astimezone(UTC))  # local time
