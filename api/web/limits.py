"""Request-body limits (SPEC §9 "Bodies") as pure ASGI middleware: 413 and 408 problems.

A declared Content-Length over the limit is refused before anything is read; a streamed
body is counted as it arrives and cut off the moment it passes the limit, so the app never
holds more than the limit. A client that stops sending its body gets 408.
"""

import asyncio
import json
from typing import Any

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.core.problems import PayloadTooLarge, ProblemError, RequestTimeout
from api.infra.settings import Settings
from api.web.errors import PROBLEM_JSON

IMPORT_ROUTES = frozenset(
    {("POST", "/api/v1/units/import"), ("POST", "/api/v1/submissions/import")}
)


def settings_of(scope: Scope) -> Settings:
    """The settings of the app serving this request (the lifespan may have replaced them)."""
    settings: Settings = scope["app"].state.settings
    return settings


async def send_problem(scope: Scope, send: Send, problem: ProblemError, *, close: bool) -> None:
    """Answer with a small problem+json body; `close` ends the connection after it."""
    base = settings_of(scope).problem_base
    body: dict[str, Any] = {
        "type": f"{base}{problem.slug}" if problem.slug else "about:blank",
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
        "instance": scope.get("path", ""),
    }
    raw = json.dumps(body).encode()
    headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(raw)).encode()),
    ]
    headers += [(name.lower().encode(), value.encode()) for name, value in problem.headers.items()]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": problem.status, "headers": headers})
    await send({"type": "http.response.body", "body": raw})


def body_limit_for(scope: Scope, settings: Settings) -> int:
    """The largest body this route accepts, in bytes."""
    if (scope.get("method"), scope.get("path")) in IMPORT_ROUTES:
        return settings.max_import
    return settings.max_body


def declared_length(scope: Scope) -> int | None:
    """The Content-Length the client announced, if it is a number."""
    value = Headers(scope=scope).get("content-length", "").strip()
    return int(value) if value.isdigit() else None


def too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"The request body is larger than the limit of {limit} bytes.")


class _Rejected(Exception):
    """Raised into the app from `receive` once the body broke a limit."""


class _BodyGuard:
    """Wraps one request's `receive` (count, time out) and `send` (mute after a rejection)."""

    def __init__(self, receive: Receive, send: Send, *, limit: int, timeout: float) -> None:
        self._receive, self._send = receive, send
        self.limit, self.timeout = limit, timeout
        self.received = 0
        self.body_done = False
        self.started = False
        self.rejection: ProblemError | None = None

    async def receive(self) -> Message:
        if self.body_done:
            return await self._receive()  # waiting for a disconnect has no time limit
        try:
            message = await asyncio.wait_for(self._receive(), self.timeout)
        except TimeoutError:
            self.rejection = RequestTimeout(f"No request body arrived for {self.timeout:g} s.")
            raise _Rejected from None
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            self.body_done = not message.get("more_body", False)
            if self.received > self.limit:
                self.rejection = too_large(self.limit)
                raise _Rejected
        return message

    async def send(self, message: Message) -> None:
        if self.rejection is not None:
            return  # the app's own answer to the broken body is replaced by ours
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)


class BodyLimitMiddleware:
    """413 for bodies over `max_body` (`max_import` on imports), 408 for stalled bodies."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        settings = settings_of(scope)
        limit = body_limit_for(scope, settings)
        declared = declared_length(scope)
        if declared is not None and declared > limit:
            await send_problem(scope, send, too_large(limit), close=True)
            return
        guard = _BodyGuard(receive, send, limit=limit, timeout=settings.body_timeout_seconds)
        try:
            await self.app(scope, guard.receive, guard.send)
        except Exception:
            # The app may wrap our exception in its own (a 400 for an unreadable body).
            if guard.rejection is None:
                raise
        if guard.rejection is not None and not guard.started:
            await send_problem(scope, send, guard.rejection, close=True)
