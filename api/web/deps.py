"""Request dependencies as `Annotated` aliases: session, caller, pagination, path resources."""

from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.core.caller import Caller
from api.core.pagination import MAX_CURSOR_LENGTH, MAX_LIMIT
from api.core.problems import FieldError, Unprocessable
from api.services import units as unit_service
from api.web.hygiene import check_body, check_params
from api.web.policy import enforce
from api.web.retry import with_retries
from criteria.periods import Period
from models.units import Unit


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request; whatever the service did not commit is rolled back."""
    maker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with maker() as session:
        try:
            yield session
        finally:
            await session.rollback()


SessionDep = Annotated[AsyncSession, Depends(get_session)]


class PolicyRoute(APIRoute):
    """Applies the policy before FastAPI reads the body, so a malformed body can never
    answer in place of the 401 or 403 the caller is owed."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            check_params(request)  # text no database can store: 422 (api.web.hygiene)
            async with request.app.state.sessionmaker() as session:
                request.state.caller = await enforce(request, session)
            await check_body(request)
            return await with_retries(lambda: handler(request))

        return guarded


def resource_router(**kwargs: Any) -> APIRouter:
    """The router every resource module uses: its routes are guarded by the policy."""
    return APIRouter(route_class=PolicyRoute, **kwargs)


async def authorize(request: Request, session: SessionDep) -> None:
    """Every /api/v1 route depends on this too: the policy, for any route not built by
    `resource_router` (it then runs after the body is read, but it still runs)."""
    if not hasattr(request.state, "caller"):
        request.state.caller = await enforce(request, session)


AuthorizeDep = Depends(authorize)


async def get_caller(request: Request, _: Annotated[None, AuthorizeDep]) -> Caller:
    """The authenticated caller of a route whose policy requires one."""
    caller: Caller | None = request.state.caller
    assert caller is not None, "a public route asked for a caller"
    return caller


CallerDep = Annotated[Caller, Depends(get_caller)]
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


def _since_query(
    since: Annotated[datetime | None, Query(description="ISO 8601 time (no offset: UTC).")] = None,
) -> datetime | None:
    return None if since is None else utc_instant(since, "since")


SinceQuery = Annotated[datetime | None, Depends(_since_query)]


def _checked(request: Request, code: str) -> Unit | None:
    unit: Unit | None = getattr(request.state, "scope_unit", None)
    return unit if unit is not None and unit.code == code else None


async def get_unit(
    code: Annotated[str, Path(max_length=32)],
    session: SessionDep,
    request: Request,
    _: Annotated[None, AuthorizeDep],
) -> Unit:
    """The unit named in the path (already loaded by the policy when it checked scope), or 404."""
    return _checked(request, code) or await unit_service.get_by_code(session, code=code)


async def get_village(
    village_code: Annotated[str, Path(max_length=32)],
    session: SessionDep,
    request: Request,
    _: Annotated[None, AuthorizeDep],
) -> Unit:
    """The village named in the path, or 404 (a non-village code is not a village)."""
    return _checked(request, village_code) or await unit_service.get_village(
        session, code=village_code
    )


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


def _period_path(period: Annotated[str, Path(max_length=6)]) -> Period:
    return parse_period(period)


def _period_query(period: Annotated[str | None, Query(max_length=6)] = None) -> Period | None:
    return parse_period(period) if period is not None else None


PeriodPath = Annotated[Period, Depends(_period_path)]
PeriodQuery = Annotated[Period | None, Depends(_period_query)]
