"""RFC 9457 problem details: the error classes code raises and the handlers that render them."""

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from api.core.problems import Conflict, FieldError, ProblemError, Unavailable, Unprocessable
from api.web.retry import RETRYABLE, sqlstate

log = logging.getLogger("smartvillage")
PROBLEM_JSON = "application/problem+json"


class Problem(BaseModel):
    """The problem+json body, as documented in OpenAPI."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    errors: list[dict[str, str]] | None = None


_PROBLEM_CONTENT = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "content": _PROBLEM_CONTENT, "description": desc}
    for code, desc in [
        (400, "Bad request"),
        (404, "Not found"),
        (409, "Conflict"),
        (412, "Precondition failed (stale If-Match)"),
        (415, "Unsupported media type"),
        (422, "Validation error naming each bad field"),
        (503, "Database unavailable"),
    ]
}


def problem_response(
    request: Request,
    *,
    status: int,
    title: str,
    detail: str,
    type_: str = "about:blank",
    errors: Sequence[FieldError] = (),
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    """Render one problem+json response."""
    body: dict[str, Any] = {
        "type": type_,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    if errors:
        body["errors"] = [e.as_dict() for e in errors]
    body.update(extra or {})
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def _type_uri(request: Request, slug: str | None) -> str:
    base: str = request.app.state.settings.problem_base
    return f"{base}{slug}" if slug else "about:blank"


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return problem_response(
        request,
        status=exc.status,
        title=exc.title,
        detail=exc.detail,
        type_=_type_uri(request, exc.slug),
        errors=exc.errors,
        headers=exc.headers,
        extra=exc.extra,
    )


def _loc_to_field(loc: Sequence[str | int]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:] or parts
    return ".".join(parts)


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        FieldError(_loc_to_field(e.get("loc", ())), str(e.get("type", "invalid")), str(e["msg"]))
        for e in exc.errors()
    ]
    names = ", ".join(sorted({e.field for e in errors}))
    return problem_response(
        request,
        status=422,
        title=Unprocessable.title,
        detail=f"The request has invalid fields: {names}",
        type_=_type_uri(request, Unprocessable.slug),
        errors=errors,
    )


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return problem_response(
        request,
        status=exc.status_code,
        title=_HTTP_TITLES.get(exc.status_code, "Error"),
        detail=str(exc.detail),
        headers=dict(exc.headers or {}),
    )


async def _on_integrity(request: Request, exc: Exception) -> JSONResponse:
    log.info("integrity error on %s: %s", request.url.path, exc)
    return problem_response(
        request,
        status=409,
        title=Conflict.title,
        detail="The change conflicts with data stored meanwhile; reload and try again.",
        type_=_type_uri(request, Conflict.slug),
    )


# SQLSTATE classes that mean "the database cannot serve this now", not "the request is wrong":
# 08 connection exception, 53 insufficient resources, 57 operator intervention (admin
# shutdown, cannot connect now, statement timeout); and the two a retry may cure.
_UNAVAILABLE_SQLSTATE_CLASSES = ("08", "53", "57")
RETRY_AFTER_SECONDS = 5


def _unavailable_state(code: str | None) -> bool:
    return code is not None and (code[:2] in _UNAVAILABLE_SQLSTATE_CLASSES or code in RETRYABLE)


def is_database_unavailable(exc: BaseException) -> bool:
    """True for a failure of the database itself (down, restarting, overloaded, too slow)."""
    if isinstance(exc, PoolTimeout | OperationalError | InterfaceError):
        return True
    if isinstance(exc, DBAPIError):
        return exc.connection_invalidated or _unavailable_state(sqlstate(exc))
    # Last resort: some drivers raise their connect-time errors unwrapped (a refused socket,
    # a timeout: asyncio.TimeoutError and ConnectionError are OSErrors; or a server error
    # carrying its SQLSTATE while the server starts or stops).
    return isinstance(exc, OSError) or _unavailable_state(sqlstate(exc))


def _unavailable(request: Request, exc: Exception) -> JSONResponse:
    # The first line only: the rest repeats the statement and its parameters (personal data).
    reason = (str(exc).strip().splitlines() or [""])[0]
    log.warning("database unavailable on %s: %s: %s", request.url.path, type(exc).__name__, reason)
    return problem_response(
        request,
        status=503,
        title=Unavailable.title,
        detail="The database is unavailable; retry shortly.",
        type_=_type_uri(request, Unavailable.slug),
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def _on_db_down(request: Request, exc: Exception) -> JSONResponse:
    if not is_database_unavailable(exc):
        return await _on_unexpected(request, exc)
    return _unavailable(request, exc)


async def _on_client_gone(request: Request, exc: Exception) -> Response:
    # The client hung up before its body arrived: nobody reads an answer; not a server error.
    log.info("client disconnected during %s %s", request.method, request.url.path)
    return Response(status_code=400)


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    # Also reached by errors raised in middleware (outside the routing's handlers).
    if is_database_unavailable(exc):
        return _unavailable(request, exc)
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(
        request, status=500, title="Internal server error", detail="An unexpected error occurred."
    )


_HTTP_TITLES = {
    404: "Not found",
    405: "Method not allowed",
    401: "Unauthorized",
    400: "Bad request",
}


def install_error_handlers(app: FastAPI) -> None:
    """Register every handler; order matters only for subclasses (most specific wins)."""
    app.add_exception_handler(ProblemError, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(IntegrityError, _on_integrity)
    app.add_exception_handler(DBAPIError, _on_db_down)
    app.add_exception_handler(PoolTimeout, _on_db_down)
    app.add_exception_handler(OSError, _on_db_down)
    app.add_exception_handler(ClientDisconnect, _on_client_gone)
    app.add_exception_handler(Exception, _on_unexpected)
