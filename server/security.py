"""Secrets: device tokens, enrollment codes and deployment keys.

Each is random (token and key: 32 bytes; codes: 10 base32 characters, short enough to read out on the phone
and single use with an expiry). Only a SHA-256 digest is stored; a stolen database yields nothing usable.
A fast hash is right here because the secrets are random, not passwords. Look-ups go by digest, and the
final comparison uses ``hmac.compare_digest`` so no timing difference depends on how much of a guess matched.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

TOKEN_BYTES = 32


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def new_deployment_key() -> str:
    return "spk_" + secrets.token_urlsafe(TOKEN_BYTES)


def new_enrollment_code() -> str:
    raw = base64.b32encode(secrets.token_bytes(7)).decode("ascii")[:10]
    return f"{raw[:5]}-{raw[5:]}"


def normalise_code(code: str) -> str:
    """Codes are typed by people: ignore case, spaces and dashes."""
    return "".join(ch for ch in code.upper() if ch.isalnum())


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def matches(secret: str, stored_digest: str) -> bool:
    return hmac.compare_digest(digest(secret), stored_digest)
