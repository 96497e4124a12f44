"""What a login may be, and when two logins look alike.

Logins arrive from the OS of whoever holds a deployment key, so a key with ``--allow-create`` must not let
anyone add ``аlice`` (Cyrillic а) beside ``alice``, or a login carrying a right-to-left override or a zero-width
space that shows as someone else's in a teammate's window or in ``devices list``.

- ``normalise_login``: NFKC (full-width and compatibility forms fold to plain ones), trimmed, lower-cased.
  Every look-up and every stored login goes through it.
- ``login_problem``: a normalised login may hold letters, digits, punctuation, symbols and plain spaces; any
  control, format (zero-width, bidi embeddings and overrides, soft hyphen), private-use, unassigned or
  line/paragraph separator character is refused.
- ``skeleton``: what a login looks like, for the lookalike check: NFKC, case-folded, format characters dropped,
  then the usual confusables mapped to one Latin letter: Cyrillic and Greek letters drawn like Latin ones,
  ``0``→``o``, ``1``/``|``→``l``, ``rn``→``m``, ``vv``→``w``. This covers the lookalikes of Latin logins
  that Unicode's confusables list ranks most common; it is not the whole of UTS #39 (e.g. no mixed-script
  detection between two non-Latin scripts).
"""

from __future__ import annotations

import unicodedata

from protocol.text import REFUSED_CATEGORIES as NAME_REFUSED

#: Unicode categories never allowed in a login: those refused in every name (``protocol.text``: control,
#: format, surrogate, line/paragraph separators), and private-use and unassigned characters, which no OS login
#: holds and a font may draw as anything.
REFUSED_CATEGORIES = NAME_REFUSED | {"Co", "Cn"}

#: Letters from other scripts drawn like Latin ones (lower case; the skeleton is case-folded first).
CONFUSABLES = str.maketrans({
    # Cyrillic
    "а": "a", "в": "b", "е": "e", "ё": "e", "һ": "h", "і": "i", "ї": "i", "ј": "j", "к": "k", "м": "m",
    "н": "h", "о": "o", "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "ԁ": "d", "ԛ": "q",
    "ԝ": "w", "ӏ": "l", "ո": "n", "ս": "u",
    # Greek
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t",
    "υ": "u", "χ": "x", "γ": "y", "ϲ": "c", "ϳ": "j",
    # Latin lookalikes and digits
    "ı": "i", "ɑ": "a", "ɡ": "g", "ℓ": "l", "0": "o", "1": "l", "|": "l",
})
#: Letter pairs drawn like one letter, replaced after the single characters.
DIGRAPHS = (("rn", "m"), ("vv", "w"))


def normalise_login(login: str) -> str:
    return unicodedata.normalize("NFKC", login).strip().lower()


def login_problem(login: str) -> str | None:
    """Why a normalised login is refused, or None."""
    if not login:
        return "must not be empty"
    for ch in login:
        category = unicodedata.category(ch)
        if category in REFUSED_CATEGORIES or (category == "Zs" and ch != " "):
            name = unicodedata.name(ch, "unnamed")
            return f"must not contain U+{ord(ch):04X} ({name.lower()}): control, invisible or direction characters"
    return None


def skeleton(login: str) -> str:
    text = unicodedata.normalize("NFKC", login).casefold()
    text = "".join(ch for ch in text if unicodedata.category(ch) not in REFUSED_CATEGORIES)
    text = unicodedata.normalize("NFKC", text).translate(CONFUSABLES)
    for pair, single in DIGRAPHS:
        text = text.replace(pair, single)
    return text
