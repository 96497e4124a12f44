"""Text that reaches a terminal or a window: control and format characters are refused on input, escaped on output.

A name such as ``"PC\\x1b]0;owned\\x07"`` (an OSC sequence that retitles the admin's terminal), ``"\\u202egnp.exe"``
(a right-to-left override that shows it backwards) or ``"ali\\u200bce"`` (a zero-width space: two logins that
look the same) is never what a person typed as a device or user name. Unicode categories ``Cc`` (C0 and C1
controls, tab and newline included), ``Cf`` (format: bidi overrides and isolates, zero-width characters, the
byte-order mark), ``Cs`` (lone surrogates) and the line and paragraph separators ``Zl``/``Zp`` are refused;
ordinary spaces (``Zs``) are allowed. Data stored before this rule existed is shown through ``visible``.
"""

from __future__ import annotations

import unicodedata

REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def is_control(character: str) -> bool:
    return unicodedata.category(character) in REFUSED_CATEGORIES


def first_control(text: str) -> str | None:
    """The first refused character of ``text`` as its code point (``U+202E``), or ``None`` when there is none."""
    for character in text:
        if is_control(character):
            return f"U+{ord(character):04X}"
    return None


def visible(text: str) -> str:
    """``text`` with each refused character written as an escape (``\\x1b``, ``\\u202e``): safe to print."""
    return "".join(_escape(c) if is_control(c) else c for c in text)


def count_of(count: int, noun: str) -> str:
    """``1 minute``, ``2 minutes``, ``0 minutes``: English plurals of the regular nouns this project counts."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _escape(character: str) -> str:
    point = ord(character)
    if point <= 0xFF:
        return f"\\x{point:02x}"
    if point <= 0xFFFF:
        return f"\\u{point:04x}"
    return f"\\U{point:08x}"
