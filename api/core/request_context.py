"""Per-request facts that services record without knowing about HTTP (the request id)."""

from contextvars import ContextVar

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
