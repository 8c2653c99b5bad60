"""The review queue across villages, and bulk import of submissions."""

from typing import Annotated

from fastapi import Query

from api.core.pagination import DEFAULT_LIMIT, Page
from api.services import reviews, submission_import
from api.web.deps import (
    CallerDep,
    CursorQuery,
    LimitQuery,
    PeriodQuery,
    ScopeUnitDep,
    SessionDep,
    resource_router,
)
from api.web.uploads import ImportBodyDep
from models.imports import ImportReportPublic
from models.submissions import SubmissionPublic

router = resource_router(prefix="/submissions", tags=["submissions"])
StatusFilter = Annotated[str | None, Query(pattern=r"^(submitted|approved|returned)$")]


@router.get("", status_code=200)
async def list_submissions(
    session: SessionDep,
    scope: ScopeUnitDep,
    period: PeriodQuery,
    unit: Annotated[str | None, Query(max_length=32, description="A unit: its subtree.")] = None,
    status: StatusFilter = None,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> Page[SubmissionPublic]:
    """The review queue: submissions under a unit (default: your own), oldest change first."""
    return await reviews.queue(session, unit=scope, period=period, status=status,
                               limit=limit, cursor=cursor)  # fmt: skip


@router.post(
    "/import",
    status_code=200,
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "CSV (header `village_code,period,` then measure codes; booleans "
            "true/false/1/0; an empty cell is a missing measure), a JSON array of "
            "`{village_code, period, values}`, or either one as a multipart `file` part.",
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                },
            },
        }
    },
)
async def import_submissions(
    body: ImportBodyDep,
    session: SessionDep,
    caller: CallerDep,
    dry_run: Annotated[bool, Query(description="Validate and report; write nothing.")] = False,
) -> ImportReportPublic:
    """Create or revise many submissions at once, all or nothing, with a per-row report."""
    return await submission_import.import_submissions(
        session, body=body, dry_run=dry_run, actor=caller
    )
