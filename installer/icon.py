"""The app icon, drawn at build time: a PNG, and the .ico (Windows) and .icns (macOS) that wrap it.

Drawn here instead of committed so no binary sits in the repo and the colour matches the tray's "active" dot
(``ui.present``). Pure Python (zlib + struct): the build machine needs nothing beyond the interpreter.

    python -m installer.icon OUT_DIR      writes StaffPulse.png, StaffPulse.ico, StaffPulse.icns
"""

from __future__ import annotations

import struct
import sys
import zlib
from pathlib import Path

COLOUR = (0x2E, 0x9D, 0x47)  # the tray's "active" green (ui.present)
RIM = (0x1C, 0x63, 0x31)
ICO_SIZES = (16, 32, 48, 256)
ICNS_TYPES = {32: b"ic11", 64: b"ic12", 128: b"ic07", 256: b"ic08", 512: b"ic09"}


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(size: int) -> bytes:
    """A filled, anti-aliased circle with a darker rim on a transparent square (RGBA, 8 bits)."""
    centre, outer = (size - 1) / 2, size * 0.46
    rim = max(1.0, size / 12)
    rows = []
    for y in range(size):
        row = bytearray(b"\x00")  # filter type: none
        for x in range(size):
            distance = ((x - centre) ** 2 + (y - centre) ** 2) ** 0.5
            alpha = min(1.0, max(0.0, outer - distance + 0.5))
            red, green, blue = RIM if distance > outer - rim else COLOUR
            row += bytes((red, green, blue, round(alpha * 255)))
        rows.append(bytes(row))
    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
            + _chunk(b"IEND", b""))


def ico(images: dict[int, bytes]) -> bytes:
    """ICO with PNG-compressed entries (Windows Vista and later read them)."""
    head = struct.pack("<HHH", 0, 1, len(images))
    offset = len(head) + 16 * len(images)
    entries, blobs = b"", b""
    for size, data in images.items():
        side = 0 if size >= 256 else size  # 0 means 256 in an ICO directory entry
        entries += struct.pack("<BBBBHHII", side, side, 0, 0, 1, 32, len(data), offset + len(blobs))
        blobs += data
    return head + entries + blobs


def icns(images: dict[int, bytes]) -> bytes:
    body = b"".join(ICNS_TYPES[size] + struct.pack(">I", len(data) + 8) + data for size, data in images.items())
    return b"icns" + struct.pack(">I", len(body) + 8) + body


def write(out_dir: Path) -> dict[str, Path]:
    """Write the three icon files into ``out_dir``; returns them by extension."""
    out_dir.mkdir(parents=True, exist_ok=True)
    images = {size: png(size) for size in sorted(set(ICO_SIZES) | set(ICNS_TYPES))}
    files = {"png": images[256], "ico": ico({s: images[s] for s in ICO_SIZES}),
             "icns": icns({s: images[s] for s in ICNS_TYPES})}
    paths = {}
    for extension, data in files.items():
        paths[extension] = out_dir / f"StaffPulse.{extension}"
        paths[extension].write_bytes(data)
    return paths


if __name__ == "__main__":
    for path in write(Path(sys.argv[1])).values():
        print(path)
