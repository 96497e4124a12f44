"""The app icon, drawn at build time: a PNG, and the .ico (Windows) and .icns (macOS) that wrap it.

Drawn here instead of committed so no binary sits in the repo, and drawn from ``ui.brand``'s description of the
mark (a disc with a pulse line, in the tray's "active" colour), so the exe's icon is the tray's. Pure Python
(zlib + struct, and ``ui.brand``, which imports nothing): the build machine needs nothing beyond the interpreter.

    python -m installer.icon OUT_DIR      writes StaffPulse.png, StaffPulse.ico, StaffPulse.icns
"""

from __future__ import annotations

import itertools
import struct
import sys
import zlib
from pathlib import Path

from ui import brand

COLOUR, RIM, INK = brand.rgb(brand.BRAND), brand.rgb(brand.rim(brand.BRAND)), brand.rgb(brand.ink(brand.BRAND))
ICO_SIZES = (16, 32, 48, 256)
ICNS_TYPES = {32: b"ic11", 64: b"ic12", 128: b"ic07", 256: b"ic08", 512: b"ic09"}


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _to_segment(px: float, py: float, start: tuple[float, float], end: tuple[float, float]) -> float:
    (ax, ay), (bx, by) = start, end
    dx, dy = bx - ax, by - ay
    along = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    return float(((px - ax - along * dx) ** 2 + (py - ay - along * dy) ** 2) ** 0.5)


def png(size: int) -> bytes:
    """The mark (``ui.brand``): an anti-aliased disc with a darker rim and the pulse line across it, on a
    transparent square (RGBA, 8 bits)."""
    centre, outer = (size - 1) / 2, size * brand.DISC_RADIUS
    rim = max(1.0, size * brand.RIM_WIDTH)
    half_line = max(brand.PULSE_MIN_PX, size * brand.PULSE_WIDTH) / 2
    points = [(x * size, y * size) for x, y in brand.PULSE]
    rows = []
    for y in range(size):
        row = bytearray(b"\x00")  # filter type: none
        for x in range(size):
            distance = ((x - centre) ** 2 + (y - centre) ** 2) ** 0.5
            alpha = min(1.0, max(0.0, outer - distance + 0.5))
            base = RIM if distance > outer - rim else COLOUR
            to_line = min(_to_segment(x + 0.5, y + 0.5, a, b) for a, b in itertools.pairwise(points))
            cover = min(1.0, max(0.0, half_line - to_line + 0.5))
            red, green, blue = (round(i * cover + b * (1 - cover)) for i, b in zip(INK, base, strict=True))
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
