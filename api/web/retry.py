"""Transactions that lose a deadlock or a serialization check are run again, a few times."""

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError

T = TypeVar("T")
RETRIES = 3
# PostgreSQL's SQLSTATEs for "run the transaction again": serialization failure, deadlock.
RETRYABLE = frozenset({"40001", "40P01"})
log = logging.getLogger("smartvillage")


def sqlstate(error: object) -> str | None:
    """The SQLSTATE a driver error (or a SQLAlchemy error wrapping one) reports, if any."""
    if isinstance(error, DBAPIError):
        error = error.orig
    code = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
    return code if isinstance(code, str) else None


def is_retryable(exc: BaseException) -> bool:
    """True for a deadlock or serialization failure: the same request may succeed."""
    return isinstance(exc, DBAPIError) and sqlstate(exc) in RETRYABLE


async def with_retries(call: Callable[[], Awaitable[T]], *, retries: int = RETRIES) -> T:
    """`call()`, again up to `retries` times while it fails retryably (what still fails
    escapes, and is answered 503 by the error handlers)."""
    for attempt in range(retries):
        try:
            return await call()
        except DBAPIError as exc:
            if not is_retryable(exc):
                raise
            log.info("retrying after %s (attempt %d)", sqlstate(exc), attempt + 1)
            await asyncio.sleep(random.uniform(0.005, 0.02) * 2**attempt)
    return await call()
