"""Opaque cursors for keyset pagination and the generic page shape."""

import base64
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from api.core.problems import BadRequest, FieldError
from criteria.text import text_problem

MAX_LIMIT = 500
MAX_CURSOR_LENGTH = 1000
DEFAULT_LIMIT = 50


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """`{items, next_cursor}`; `next_cursor` is null on the last page."""

    items: list[T]
    next_cursor: str | None


def encode_cursor(key: dict[str, Any]) -> str:
    """Pack the last row's sort key into an opaque, URL-safe token."""
    raw = json.dumps(key, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


_INVALID = "The cursor is not valid for this list; start again without it."
MAX_CURSOR_TEXT = 200
MIN_CURSOR_INT, MAX_CURSOR_INT = -(2**31), 2**31 - 1  # the database's INTEGER columns
MAX_CURSOR_DECIMAL = Decimal(10**9)

CursorType = type[int] | type[str] | type[datetime] | type[Decimal]


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("not an integer")
    if not MIN_CURSOR_INT <= value <= MAX_CURSOR_INT:
        raise ValueError("integer out of range")
    return value


def _str(value: object) -> str:
    if not isinstance(value, str) or len(value) > MAX_CURSOR_TEXT or text_problem(value):
        raise ValueError("not a short text")
    return value


def _datetime(value: object) -> datetime:
    at = datetime.fromisoformat(_str(value))  # ValueError when it is not ISO 8601
    if at.tzinfo is None:
        raise ValueError("a time without an offset")
    at.astimezone(UTC)  # OverflowError when UTC falls outside years 1-9999
    return at


def _decimal(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError("not a number")
    number = Decimal(_str(value) if isinstance(value, str) else value)
    if not number.is_finite() or abs(number) >= MAX_CURSOR_DECIMAL:
        raise ValueError("number out of range")
    return number


_CONVERTERS: dict[type, Callable[[object], Any]] = {
    int: _int,
    str: _str,
    datetime: _datetime,
    Decimal: _decimal,
}


def decode_cursor(
    token: str | None,
    *,
    fields: Mapping[str, CursorType],
    valid: Callable[[dict[str, Any]], bool] | None = None,
) -> dict[str, Any] | None:
    """Unpack a cursor into `fields` (name → int, str, datetime or Decimal), refusing
    anything this API did not make (400 naming `cursor`): wrong keys, wrong types, ints
    outside the database's INTEGER, texts over 200 characters, times without an offset, or
    values `valid` (a list's own last check, e.g. a score within 0-100) turns down."""
    if not token:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(key, dict) or set(key) != set(fields):
            raise ValueError("not this list's keys")
        values = {name: _CONVERTERS[kind](key[name]) for name, kind in fields.items()}
        if valid is not None and not valid(values):
            raise ValueError("not a value this list produced")
    except (ValueError, ArithmeticError, RecursionError):  # InvalidOperation, OverflowError
        raise BadRequest(
            _INVALID,
            errors=[FieldError("cursor", "invalid_cursor", "not a cursor this list produced")],
        ) from None
    return values


def page_of(rows: Sequence[Any], limit: int, key: Callable[[Any], dict[str, Any]]) -> Page[Any]:
    """The first `limit` of `rows` (fetched with `limit + 1`), and a cursor after the last
    one when there are more."""
    items = list(rows[:limit])
    more = len(rows) > limit
    return Page[Any](items=items, next_cursor=encode_cursor(key(items[-1])) if more else None)
