"""Folding of place and country names for case- and accent-insensitive matching."""

from __future__ import annotations

import re
import unicodedata

# Letters that Unicode does not decompose into a base letter plus a combining mark.
_SPECIAL = str.maketrans(
    {
        "ø": "o",
        "æ": "ae",
        "œ": "oe",
        "ł": "l",
        "đ": "d",
        "ð": "d",
        "þ": "th",
        "ı": "i",
        "ħ": "h",
        "ŧ": "t",
        "ŋ": "n",
        "ß": "ss",
    }
)
# Apostrophes, quotes, dots and dashes separate words like a space ("Baarle-Nassau").
_SEPARATORS = re.compile(r"[\s\-‐‑‒–—'’‘`´\".,()/]+")


def fold(text: str) -> str:
    """The matching key of a name: lower case, accents stripped, punctuation as single spaces.

    "Büsingen am Hochrhein" → "busingen am hochrhein", "Baarle-Nassau" → "baarle nassau",
    "Łódź" → "lodz". Text in non-Latin scripts keeps its letters (lower-cased)."""
    if text.isascii():
        return _SEPARATORS.sub(" ", text.lower()).strip()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SEPARATORS.sub(" ", stripped.translate(_SPECIAL)).strip()
