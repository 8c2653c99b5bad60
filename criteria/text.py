"""Text helpers: Unicode NFC normalisation and a diacritics-insensitive search key."""

import re
import unicodedata

__all__ = ["fold", "nfc", "text_problem"]

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


def text_problem(s: str) -> str | None:
    """Why `s` cannot be stored as text (`nul_character`, `unpaired_surrogate`), or None.

    Databases refuse NUL (PostgreSQL) and lone surrogates (every UTF-8 encoder); a phone
    that cuts a note inside an emoji sends exactly such a surrogate.
    """
    if "\x00" in s:
        return "nul_character"
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return "unpaired_surrogate"
    return None
