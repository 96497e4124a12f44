"""Which files in a frozen folder are Windows PE images, and which of those carry an Authenticode signature.

A PE is recognised by its headers, not its name: PyInstaller's folder holds ``.exe``, ``.dll`` and ``.pyd``
files, and wheels may ship a PE under any name, so an extension list would miss one that Windows still loads
and SmartScreen, WDAC or Smart App Control still judge. The headers: ``MZ`` at 0, the PE header's offset at
0x3C, ``PE\\0\\0`` there. The signature's presence is the optional header's Certificate Table entry (data
directory 4) being non-empty; whether it is *valid* is for the verifier (installer/sign.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

_DOS_HEADER = 64
_PE_OFFSET_AT = 0x3C
_COFF_HEADER = 20
#: The optional header's magic, and where its data directories start: PE32 (32-bit), PE32+ (64-bit).
_DATA_DIRECTORIES_AT = {0x10B: 96, 0x20B: 112}
_CERTIFICATE_TABLE = 4
_HEADERS_READ = 4 + _COFF_HEADER + max(_DATA_DIRECTORIES_AT.values()) + 8 * (_CERTIFICATE_TABLE + 1)


def _headers(path: Path) -> bytes | None:
    """The bytes from the PE signature to the end of the data directories, or None when ``path`` is no PE.
    Read at the offset the DOS header names, however far in: a long DOS stub must not hide a PE."""
    with path.open("rb") as handle:
        dos = handle.read(_DOS_HEADER)
        if len(dos) < _DOS_HEADER or dos[:2] != b"MZ":
            return None
        handle.seek(int.from_bytes(dos[_PE_OFFSET_AT:_PE_OFFSET_AT + 4], "little"))
        headers = handle.read(_HEADERS_READ)
    return headers if headers[:4] == b"PE\0\0" else None


def is_pe(path: Path) -> bool:
    return path.is_file() and _headers(path) is not None


def has_signature(path: Path) -> bool:
    """True when the PE carries an embedded signature (valid or not); False for an unsigned PE."""
    headers = _headers(path)
    if headers is None:
        raise ValueError(f"{path} is not a PE file")
    optional = 4 + _COFF_HEADER
    directories = _DATA_DIRECTORIES_AT.get(int.from_bytes(headers[optional:optional + 2], "little"))
    entry = optional + (directories or 0) + 8 * _CERTIFICATE_TABLE
    if directories is None or len(headers) < entry + 8:
        raise ValueError(f"{path}: truncated or unknown PE optional header")
    return int.from_bytes(headers[entry + 4:entry + 8], "little") > 0


def pe_files(folder: Path) -> Iterator[Path]:
    """Every PE under ``folder``, in a stable order."""
    return (path for path in sorted(folder.rglob("*")) if is_pe(path))
