"""Opaque cursors for keyset pagination and the generic page shape."""

import base64
import json
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from api.problems import BadRequest, FieldError

MAX_LIMIT = 500
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


def decode_cursor(token: str | None, *, fields: tuple[str, ...]) -> dict[str, Any] | None:
    """Unpack a cursor, refusing anything this API did not make (400 naming `cursor`)."""
    if not token:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError):
        key = None
    if not isinstance(key, dict) or set(key) != set(fields):
        raise BadRequest(
            "The cursor is not valid for this list; start again without it.",
            errors=[FieldError("cursor", "invalid_cursor", "not a cursor this list produced")],
        )
    return key


def page_of(rows: Sequence[Any], limit: int, key: Callable[[Any], dict[str, Any]]) -> Page[Any]:
    """The first `limit` of `rows` (fetched with `limit + 1`), and a cursor after the last
    one when there are more."""
    items = list(rows[:limit])
    more = len(rows) > limit
    return Page[Any](items=items, next_cursor=encode_cursor(key(items[-1])) if more else None)
