"""Administrative units: list and search, read with ancestry, create, change, bulk import."""

from typing import Annotated, Any

from fastapi import Query

from api.core.pagination import DEFAULT_LIMIT, Page
from api.services import unit_import, units
from api.web.deps import CallerDep, CursorQuery, LimitQuery, SessionDep, UnitDep, resource_router
from api.web.errors import PROBLEM_JSON, Problem
from api.web.uploads import ImportBodyDep
from models.imports import ImportReportPublic
from models.units import Level, UnitCreate, UnitPublic, UnitUpdate

router = resource_router(prefix="/units", tags=["units"])


_IMPORT_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "CSV (header `code,name,level,parent_code,lat,lon`), a JSON array "
        "of units, or either one as a multipart `file` part.",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/json": {
                "schema": {"type": "array", "items": {"$ref": "#/components/schemas/UnitCreate"}}
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            },
        },
    }
}
_IMPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    415: {"model": Problem, "content": {PROBLEM_JSON: {}}, "description": "Not CSV or JSON"},
    422: {
        "model": Problem,
        "content": {PROBLEM_JSON: {}},
        "description": "Bad rows: the report fields, with `errors` naming row and column",
    },
}


@router.get("", status_code=200)
async def list_units(
    session: SessionDep,
    level: Annotated[Level | None, Query(description="Only units of this level.")] = None,
    parent: Annotated[str | None, Query(max_length=32, description="Direct children of.")] = None,
    q: Annotated[str | None, Query(max_length=200, description="Name or code prefix.")] = None,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> Page[UnitPublic]:
    """Units ordered by code; `q` matches names ignoring case and diacritics, or a code prefix."""
    return await units.list_units(
        session, level=level, parent=parent, q=q, limit=limit, cursor=cursor
    )


@router.get("/{code}", status_code=200)
async def get_unit(unit: UnitDep, session: SessionDep) -> UnitPublic:
    """One unit with its `path` of ancestors, province first."""
    return await units.to_public(session, unit)


@router.post("", status_code=201)
async def create_unit(body: UnitCreate, session: SessionDep, caller: CallerDep) -> UnitPublic:
    """Create a unit under its parent (a province has none); 409 if the code is taken."""
    return await units.create(session, body=body, actor=caller)


@router.patch("/{code}", status_code=200)
async def update_unit(
    unit: UnitDep, body: UnitUpdate, session: SessionDep, caller: CallerDep
) -> UnitPublic:
    """Rename, relocate (lat/lon) or move a unit under another parent; its level never changes."""
    return await units.update_unit(session, unit=unit, changes=body, actor=caller)


@router.post("/import", status_code=200, openapi_extra=_IMPORT_OPENAPI, responses=_IMPORT_RESPONSES)
async def import_units(
    body: ImportBodyDep,
    session: SessionDep,
    caller: CallerDep,
    dry_run: Annotated[bool, Query(description="Validate and report; write nothing.")] = False,
) -> ImportReportPublic:
    """Create or update units from CSV or JSON, all or nothing, with a per-row report."""
    return await unit_import.import_units(session, body=body, dry_run=dry_run, actor=caller)
