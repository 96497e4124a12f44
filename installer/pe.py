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


def _pe_header(data: bytes) -> int | None:
    """The PE header's offset if ``data`` (the file's start) begins a PE image, else None."""
    if len(data) < _DOS_HEADER or data[:2] != b"MZ":
        return None
    offset = int.from_bytes(data[_PE_OFFSET_AT:_PE_OFFSET_AT + 4], "little")
    return offset if data[offset:offset + 4] == b"PE\0\0" else None


def _head(path: Path) -> bytes:
    """Enough of the file for the DOS, PE and optional headers (the PE offset is small in every real image)."""
    with path.open("rb") as handle:
        return handle.read(4096)


def is_pe(path: Path) -> bool:
    return path.is_file() and _pe_header(_head(path)) is not None


def has_signature(path: Path) -> bool:
    """True when the PE carries an embedded signature (valid or not); False for an unsigned PE."""
    data = _head(path)
    offset = _pe_header(data)
    if offset is None:
        raise ValueError(f"{path} is not a PE file")
    optional = offset + 4 + _COFF_HEADER
    directories = _DATA_DIRECTORIES_AT.get(int.from_bytes(data[optional:optional + 2], "little"))
    if directories is None:
        raise ValueError(f"{path}: unknown PE optional header")
    entry = optional + directories + 8 * _CERTIFICATE_TABLE
    return int.from_bytes(data[entry + 4:entry + 8], "little") > 0


def pe_files(folder: Path) -> Iterator[Path]:
    """Every PE under ``folder``, in a stable order."""
    return (path for path in sorted(folder.rglob("*")) if is_pe(path))
