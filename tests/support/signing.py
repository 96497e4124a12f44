"""Throwaway signing identities for tests: real unsigned Windows PE files to sign (``launcher_stub``), a
self-signed code-signing certificate, and a real RFC 3161
timestamp authority on an ephemeral loopback port for a machine without internet: ``openssl ts -reply``
answers each ``application/timestamp-query`` POST with a token signed by a throwaway TSA certificate
(``extendedKeyUsage=critical,timeStamping``, as RFC 3161 requires).

Release signing must be timestamped, so osslsigncode needs a TSA to sign at all; the tests point
``STAFFPULSE_SIGN_TIMESTAMP_URL`` at this one and trust its certificate with ``STAFFPULSE_SIGN_TSA_CA``.
``failing`` makes it answer HTTP 500, as a TSA that is down does.
"""

from __future__ import annotations

import hashlib
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.util import find_spec
from pathlib import Path

from installer import pe


@dataclass(frozen=True)
class SignedFolder:
    """A frozen folder after ``installer.sign.sign_folder``: the PEs it signed, and those that already carried a
    vendor's signature, each with its SHA-256 taken BEFORE signing (paths relative to ``folder``). The digests,
    not a comparison with the unsigned freeze, prove signing left vendor files alone: the copy is hard-linked, so
    a write into a vendor DLL in place would change the freeze too."""

    folder: Path
    signed: frozenset[Path]
    vendor_signed: Mapping[Path, str]


def sha256(path: Path) -> str:
    """The file's SHA-256, hex."""
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


TSA_CONFIG = """\
[tsa]
default_tsa = tsa_config
[tsa_config]
serial = {serial}
crypto_device = builtin
signer_digest = sha256
default_policy = 1.3.6.1.4.1.99999.1
digests = sha1, sha256, sha384, sha512
accuracy = secs:1
ess_cert_id_alg = sha256
"""
REPLY_TIMEOUT_S = 30  # one openssl call


@dataclass
class TimestampAuthority:
    """``url`` to timestamp against; ``certificate`` (PEM) to trust its tokens; ``requests`` answered so far;
    set ``failing`` to answer HTTP 500 instead."""

    url: str
    certificate: Path
    requests: int = 0
    failing: bool = False


def launcher_stub(name: str) -> Path:
    """A real unsigned Windows PE: one of the launcher stubs pip's distlib ships (t32.exe is PE32, w64.exe and
    t64.exe PE32+); our own exe exists only on Windows."""
    spec = find_spec("pip")
    assert spec is not None and spec.submodule_search_locations
    path = Path(spec.submodule_search_locations[0]) / "_vendor" / "distlib" / name
    assert pe.is_pe(path) and not pe.has_signature(path)
    return path


def _make_identity(folder: Path, name: str) -> tuple[Path, Path]:
    """A self-signed TSA certificate valid two days, and its key."""
    cert, key = folder / "tsa.pem", folder / "tsa.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}",
                    "-addext", "extendedKeyUsage=critical,timeStamping", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=REPLY_TIMEOUT_S)
    return cert, key


def make_certificate(folder: Path, name: str) -> tuple[Path, Path]:
    """A self-signed code-signing certificate for CN ``name`` valid two days: (``name``.pfx with the password
    ``throwaway``, ``name``.pem to trust it)."""
    key, cert, pfx = folder / f"{name}.key", folder / f"{name}.pem", folder / f"{name}.pfx"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}",
                    "-addext", "extendedKeyUsage=codeSigning", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=REPLY_TIMEOUT_S)
    subprocess.run(["openssl", "pkcs12", "-export", "-inkey", str(key), "-in", str(cert), "-out", str(pfx),
                    "-passout", "pass:throwaway"], check=True, capture_output=True, timeout=REPLY_TIMEOUT_S)
    return pfx, cert


@contextmanager
def timestamp_authority(folder: Path, name: str = "StaffPulse Test TSA") -> Iterator[TimestampAuthority]:
    """Serve a TSA from ``folder`` (its key, certificate, config and serial file live there) until exit."""
    cert, key = _make_identity(folder, name)
    config = folder / "tsa.cnf"
    config.write_text(TSA_CONFIG.format(serial=folder / "serial"))
    (folder / "serial").write_text("01\n")
    lock = threading.Lock()  # openssl ts reads and rewrites the serial file: one reply at a time

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            query = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if authority.failing:
                # osslsigncode may hang up after the status line, before the body: it has its answer
                with suppress(ConnectionError):
                    self.send_error(500, "timestamp authority failing (test)")
                return
            if self.headers.get("Content-Type") != "application/timestamp-query":
                self.send_error(415, "expected application/timestamp-query")
                return
            with lock, tempfile.TemporaryDirectory(dir=folder) as scratch:
                request, reply = Path(scratch) / "query.tsq", Path(scratch) / "reply.tsr"
                request.write_bytes(query)
                done = subprocess.run(["openssl", "ts", "-reply", "-config", str(config), "-queryfile", str(request),
                                       "-signer", str(cert), "-inkey", str(key), "-out", str(reply)],
                                      capture_output=True, timeout=REPLY_TIMEOUT_S)
                if done.returncode != 0:
                    self.send_error(400, done.stderr.decode(errors="replace")[-200:])
                    return
                authority.requests += 1
                body = reply.read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: pytest shows stderr of failing tests, and these lines say nothing the test does not."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    authority = TimestampAuthority(f"http://127.0.0.1:{server.server_address[1]}", cert)
    thread = threading.Thread(target=server.serve_forever, name="tsa", daemon=True)
    thread.start()
    try:
        yield authority
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
