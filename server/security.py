"""Secrets: device tokens, enrollment codes and deployment keys.

Tokens and keys are 32 random bytes: far beyond any brute force, so a plain SHA-256 digest is stored and a
copy of the database yields nothing usable. A fast hash is right there because the secrets are random, not
passwords. Look-ups go by digest, and the final comparison uses ``hmac.compare_digest`` so no timing
difference depends on how much of a guess matched.

Enrollment codes are different: 10 base32 characters (50 bits), short enough to read out on the phone. 2^50
SHA-256 digests are within reach of one GPU, so a plain digest would give away every unused code to whoever
copies the database. Codes are therefore stored as an HMAC-SHA-256 under the server's code secret: 32 random
bytes kept in a file beside the data (``code_secret_path``), never in the database. A copy of the database
alone yields no code; the file and the database together still do, so back them up apart.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import secrets
from pathlib import Path

import platformdirs
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from server import db
from server.models import CodeSecretCheck

TOKEN_BYTES = 32
#: Overrides where the code secret lives (every server process and the admin CLI must read the same file).
SECRET_FILE_ENV = "STAFFPULSE_SECRET_FILE"


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


def code_digest(code: str, secret: bytes) -> str:
    """What is stored for an enrollment code: HMAC-SHA-256 of the normalised code under the code secret."""
    return hmac.new(secret, normalise_code(code).encode("utf-8"), hashlib.sha256).hexdigest()


def code_secret_path(database_url: str) -> Path:
    """``$STAFFPULSE_SECRET_FILE``; else beside a SQLite database file (``server.db`` → ``server.db.secret``);
    else (PostgreSQL, in-memory SQLite) in the platform data dir, where the default SQLite database lives."""
    if configured := os.environ.get(SECRET_FILE_ENV):
        return Path(configured)
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        database = Path(url.database)
        return database.with_name(database.name + ".secret")
    return Path(platformdirs.user_data_dir("StaffPulse Server", appauthor=False)) / "enrollment-codes.secret"


def code_secret(database_url: str) -> bytes:
    """The code secret, created once (0600) by whichever process needs it first; a race loses to the file
    already there, so every process ends up with the same secret."""
    path = code_secret_path(database_url)
    with contextlib.suppress(FileNotFoundError):
        return _read_secret(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f"{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(TOKEN_BYTES) + "\n")
        with contextlib.suppress(FileExistsError):  # another process was first: use its secret
            os.link(draft, path)
    finally:
        draft.unlink()
    return _read_secret(path)


class CodeSecretMismatch(ValueError):
    """The code secret file is not the one this database's codes were issued under."""


async def checked_code_secret(session: AsyncSession, database_url: str) -> bytes:
    """``code_secret``, checked against the database (``CodeSecretCheck``): the first process to use a secret with
    a database records its check; a process reading another secret file is refused, naming the file, instead
    of issuing codes no server matches (or refusing every code as unknown). Commits the check it records."""
    secret = code_secret(database_url)
    verifier = hmac.new(secret, b"staffpulse enrollment-code secret check", hashlib.sha256).hexdigest()
    await session.execute(db.insert(session, CodeSecretCheck).values(id=1, verifier=verifier).on_conflict_do_nothing())
    await session.commit()
    recorded = await session.scalar(select(CodeSecretCheck.verifier).where(CodeSecretCheck.id == 1))
    if recorded != verifier:
        raise CodeSecretMismatch(
            f"{code_secret_path(database_url)}: not the enrollment-code secret this database was set up with; "
            f"every server process and admin command must read the same file (set ${SECRET_FILE_ENV} to it)")
    return secret


def _read_secret(path: Path) -> bytes:
    text = path.read_text().strip()
    try:
        secret = bytes.fromhex(text)
    except ValueError:
        raise ValueError(f"{path}: not a StaffPulse code secret (expected hex)") from None
    if len(secret) < 16:
        raise ValueError(f"{path}: the code secret is too short ({len(secret)} bytes, at least 16)")
    return secret
