"""Text helpers: Unicode NFC normalisation and a diacritics-insensitive search key."""

import re
import unicodedata

__all__ = ["fold", "nfc"]

_SPACES = re.compile(r"\s+")


def nfc(s: str) -> str:
    """Return `s` in Unicode NFC with surrounding whitespace removed."""
    return unicodedata.normalize("NFC", s).strip()


def fold(s: str) -> str:
    """Return a search key: lower-case, no diacritics, `đ` → `d`, single spaces.

    "Thôn Đông" → "thon dong"; "Hoàng Tây" → "hoang tay"; the look-alike "Ð" (U+00D0) → "d".
    """
    lowered = unicodedata.normalize("NFC", s).casefold().replace("đ", "d").replace("ð", "d")
    decomposed = unicodedata.normalize("NFD", lowered)
    bare = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return _SPACES.sub(" ", unicodedata.normalize("NFC", bare)).strip()
