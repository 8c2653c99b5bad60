"""Request dependencies as `Annotated` aliases: session, caller, pagination, path resources."""

from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_dependant, solve_dependencies
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.exceptions import HTTPException

from api.core.caller import Caller
from api.core.pagination import MAX_CURSOR_LENGTH, MAX_LIMIT
from api.core.problems import FieldError, Unprocessable
from api.infra.reads import Reads
from api.services import reviews
from api.services import units as unit_service
from api.web.hygiene import check_body, check_params
from api.web.policy import Access, Memory, enforce, identify
from api.web.retry import with_retries
from criteria.periods import Period
from models.units import Unit


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request; whatever the service did not commit is rolled back. A
    session the request never used is dropped as it is (closing it would cost a
    greenlet switch on every read served from memory and `api.infra.reads`)."""
    maker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    session = maker()
    try:
        yield session
    finally:
        await close_if_used(session)


async def close_if_used(session: AsyncSession) -> None:
    """Close (and so roll back) a session that began a transaction or holds objects."""
    if session.in_transaction() or session.sync_session.identity_map:
        await session.close()


SessionDep = Annotated[AsyncSession, Depends(get_session)]


def reads_of(request: Request) -> Reads:
    """Single-statement reads for the hottest routes (`api.infra.reads`)."""
    reads: Reads = request.app.state.reads
    return reads


# The two credentials, as FastAPI security classes so that OpenAPI declares them (and /docs
# has an Authorize button); they only read headers: the policy decides what they are worth.
bearer_token = OAuth2PasswordBearer(
    tokenUrl="/api/v1/auth/token", scheme_name="BearerToken", auto_error=False
)
api_key_header = APIKeyHeader(name="X-API-Key", scheme_name="ApiKey", auto_error=False)


async def get_access(
    request: Request,
    session: SessionDep,
    token: Annotated[str | None, Depends(bearer_token)],
    key: Annotated[str | None, Depends(api_key_header)],
) -> Access:
    """Every /api/v1 route's guard, in this order: path and query text no database can
    store (422, before the policy looks units up); the route's policy applied to the
    caller, in the request's one session (cached: the handler's `SessionDep` is the same
    session); body text no database can store (422; FastAPI has read the body by now)."""
    check_params(request)
    secret = request.app.state.settings.secret_key.get_secret_value()
    memory = memory_for(request)
    caller = await identify(session, token=token, key=key, secret=secret, memory=memory)
    access = await enforce(request, session, caller, memory)
    await check_body(request)
    return access


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def memory_for(request: Request) -> Memory | None:
    """The worker's memory for a safe request; an unsafe one clears it and reads fresh."""
    memory: Memory = request.app.state.memory
    if request.method in SAFE_METHODS:
        return memory
    memory.clear()
    return None


AccessDep = Annotated[Access, Depends(get_access)]


# Every /api/v1 route depends on the guard (`v1_router`).
GUARDS = [Depends(get_access)]


async def _owed_refusal(_access: AccessDep) -> None:
    """The guard alone, for a request whose body FastAPI could not parse."""


def _is_body_parse_error(exc: Exception) -> bool:
    """A body read in full that is not JSON, or not text (the 400's cause is then a
    UnicodeDecodeError); a body cut off by a limit is not one: its 413/408 stands."""
    if isinstance(exc, RequestValidationError):
        return any(error.get("type") == "json_invalid" for error in exc.errors())
    return isinstance(exc, HTTPException) and isinstance(exc.__cause__, ValueError)


class PolicyRoute(APIRoute):
    """Ordering only. FastAPI parses the body before it solves dependencies, so a body that
    is not JSON (or not UTF-8) would answer in place of the 401 or 403 the caller is owed:
    on such a failure the guards run first (their refusal wins), then the parse error is
    raised. The handler runs under `with_retries` (deadlocks, serialization failures)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        guards = get_dependant(path=self.path_format, call=_owed_refusal)

        async def ordered(request: Request) -> Response:
            try:
                return await with_retries(lambda: handler(request))
            except (RequestValidationError, HTTPException) as exc:
                if not _is_body_parse_error(exc):
                    raise
                await _solve(request, guards)
                raise

        return ordered


async def _solve(request: Request, dependant: Dependant) -> None:
    """Run `dependant`'s dependencies for `request` (the app's overrides apply)."""
    solved = await solve_dependencies(
        request=request,
        dependant=dependant,
        dependency_overrides_provider=request.app,
        async_exit_stack=request.scope["fastapi_inner_astack"],
        embed_body_fields=False,
    )
    if solved.errors:
        raise RequestValidationError(solved.errors)


def resource_router(**kwargs: Any) -> APIRouter:
    """The router every resource module uses (its routes put the guards before the body)."""
    return APIRouter(route_class=PolicyRoute, **kwargs)


async def get_caller(access: AccessDep) -> Caller:
    """The authenticated caller of a route whose policy requires one."""
    assert access.caller is not None, "a public route asked for a caller"
    return access.caller


CallerDep = Annotated[Caller, Depends(get_caller)]


async def get_scope_unit(access: AccessDep, session: SessionDep) -> Unit | None:
    """The unit a listing is limited to: `?unit=` (its scope checked by the policy), else
    the caller's own unit (None: everything, for an admin without one)."""
    if access.unit is not None:
        return access.unit
    assert access.caller is not None, "a public route asked for a scope"
    return await reviews.caller_unit(session, access.caller)


ScopeUnitDep = Annotated[Unit | None, Depends(get_scope_unit)]
LimitQuery = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size (max 500).")]
CursorQuery = Annotated[
    str | None,
    Query(max_length=MAX_CURSOR_LENGTH, description="`next_cursor` of the previous page."),
]
MAX_ID = 2**31 - 1  # ids and version numbers are the database's INTEGER
IdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="An id (1 to 2^31 - 1).")]


def utc_instant(value: datetime, field: str) -> datetime:
    """`value` in UTC (a time without an offset is UTC), or a 422 naming `field` when
    its UTC instant falls outside years 1-9999."""
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        raise Unprocessable(
            f"{field}: {value.isoformat()} falls outside years 1-9999 in UTC.",
            errors=[FieldError(field, "out_of_range", "the UTC time is outside years 1-9999")],
        ) from None


async def _since_query(
    since: Annotated[datetime | None, Query(description="ISO 8601 time (no offset: UTC).")] = None,
) -> datetime | None:
    return None if since is None else utc_instant(since, "since")


SinceQuery = Annotated[datetime | None, Depends(_since_query)]


def _checked(access: Access, code: str) -> Unit | None:
    unit = access.unit
    return unit if unit is not None and unit.code == code else None


async def get_unit(
    code: Annotated[str, Path(max_length=32)], session: SessionDep, access: AccessDep
) -> Unit:
    """The unit named in the path (loaded by the policy when it checked scope), or 404."""
    return _checked(access, code) or await unit_service.get_by_code(session, code=code)


async def get_village(
    village_code: Annotated[str, Path(max_length=32)], session: SessionDep, access: AccessDep
) -> Unit:
    """The village named in the path, or 404 (a non-village code is not a village)."""
    return _checked(access, village_code) or await unit_service.get_village(
        session, code=village_code
    )


def scope_unit_of(access: Access) -> Unit:
    """The path's unit or village as the policy loaded it, for a route whose rule checks
    the path's scope (the hottest reads take it from the guard instead of a dependency
    of their own: each dependency costs every request)."""
    assert access.unit is not None, "the route's rule has no path scope"
    return access.unit


UnitDep = Annotated[Unit, Depends(get_unit)]
VillageDep = Annotated[Unit, Depends(get_village)]


def parse_period(period: str) -> Period:
    """A period from a path or query string, or a 422 naming the parameter."""
    try:
        return Period.parse(period)
    except ValueError as exc:
        raise Unprocessable(
            f"{period!r} is not a period (use 2026Q3 or 2026).",
            errors=[FieldError("period", "invalid_period", str(exc))],
        ) from exc


async def _period_path(period: Annotated[str, Path(max_length=6)]) -> Period:
    return parse_period(period)


PeriodText = Annotated[str | None, Query(max_length=6)]
"""`?period=` as sent; `optional_period` parses it (`PeriodQuery` does both, as a dependency)."""


def optional_period(period: str | None) -> Period | None:
    """A `?period=` value parsed, or None when absent."""
    return parse_period(period) if period is not None else None


async def _period_query(period: PeriodText = None) -> Period | None:
    return optional_period(period)


PeriodPath = Annotated[Period, Depends(_period_path)]
PeriodQuery = Annotated[Period | None, Depends(_period_query)]
