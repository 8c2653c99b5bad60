"""X-Request-ID: taken from the client when sane, else made; echoed and given to the audit."""

import re
import uuid

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.core.request_context import request_id
from api.web.errors import problem_response

_SANE = re.compile(r"[0-9A-Za-z._-]{1,64}")


class RequestIdMiddleware:
    """Sets the request id for the duration of the request and returns it in a header.

    An exception escaping the app would be answered by Starlette's outermost error
    middleware, past this one and so without the header: the 500 is sent from here instead
    (same problem body), and the exception travels on to be logged."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get("x-request-id", "")
        rid = given if _SANE.fullmatch(given) else uuid.uuid4().hex
        token = request_id.set(rid)
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                MutableHeaders(scope=message)["x-request-id"] = rid
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            if not started:
                await _internal_error(scope)(scope, receive, send_with_id)
            # The id stays set (this task ends with the request) so the error log carries it.
            raise
        request_id.reset(token)


def _internal_error(scope: Scope) -> ASGIApp:
    return problem_response(
        Request(scope),
        status=500,
        title="Internal server error",
        detail="An unexpected error occurred.",
    )
