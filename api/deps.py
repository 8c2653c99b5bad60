"""Request dependencies as `Annotated` aliases: session, caller, pagination, path resources."""

from typing import Annotated

from fastapi import Depends, Path, Query
from sqlalchemy.ext.asyncio import AsyncSession

from api.caller import OPEN_CALLER, Caller
from api.db import get_session
from api.pagination import DEFAULT_LIMIT, MAX_LIMIT
from api.services import units as unit_service
from criteria.periods import Period
from models.units import Unit

SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def get_caller() -> Caller:
    """The caller's identity. Authentication plugs in here, and only here."""
    return OPEN_CALLER


CallerDep = Annotated[Caller, Depends(get_caller)]
LimitQuery = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size (max 500).")]
CursorQuery = Annotated[str | None, Query(description="`next_cursor` of the previous page.")]


async def get_unit(code: Annotated[str, Path(max_length=32)], session: SessionDep) -> Unit:
    """The unit named in the path, or 404."""
    return await unit_service.get_by_code(session, code=code)


async def get_village(
    village_code: Annotated[str, Path(max_length=32)], session: SessionDep
) -> Unit:
    """The village named in the path, or 404 (a non-village code is not a village)."""
    return await unit_service.get_village(session, code=village_code)


UnitDep = Annotated[Unit, Depends(get_unit)]
VillageDep = Annotated[Unit, Depends(get_village)]


def parse_period(period: str) -> Period:
    """A period from a path or query string, or a 422 naming the parameter."""
    from api.problems import FieldError, Unprocessable

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
DEFAULT_PAGE = DEFAULT_LIMIT
