"""Review: approve, return or reopen a village's submission; the review queue."""

from typing import Annotated

from fastapi import Body, Header, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.caller import Caller
from api.core.pagination import DEFAULT_LIMIT, Page
from api.services import reviews, submission_import, submissions
from api.web.deps import (
    CallerDep,
    CursorQuery,
    LimitQuery,
    PeriodPath,
    PeriodQuery,
    SessionDep,
    VillageDep,
    resource_router,
)
from api.web.uploads import ImportBodyDep
from criteria.periods import Period
from models.imports import ImportReportPublic
from models.submissions import SubmissionPublic
from models.units import Unit

router = resource_router(tags=["reviews"])
BASE = "/villages/{village_code}/submissions/{period}"
Comment = Annotated[str | None, Body(embed=True, max_length=4000)]
IfMatch = Annotated[
    str | None,
    Header(max_length=200, description="ETag of the submission you reviewed (stale: 412)."),
]
StatusFilter = Annotated[str | None, Query(pattern=r"^(submitted|approved|returned)$")]


async def _step(
    session: AsyncSession,
    village: Unit,
    period: Period,
    action: reviews.Action,
    caller: Caller,
    comment: str | None,
    if_match: str | None,
    response: Response,
) -> SubmissionPublic:
    sub = await reviews.review(session, village=village, period=period, action=action,
                               reviewer=caller, comment=comment, if_match=if_match)  # fmt: skip
    response.headers["ETag"] = submissions.etag(sub)
    return submissions.to_public(sub, village)


@router.post(f"{BASE}/approve", status_code=200)
async def approve_submission(
    village: VillageDep,
    period: PeriodPath,
    session: SessionDep,
    caller: CallerDep,
    response: Response,
    comment: Comment = None,
    if_match: IfMatch = None,
) -> SubmissionPublic:
    """Approve the current revision; it is locked until reopened."""
    return await _step(session, village, period, "approve", caller, comment, if_match, response)


@router.post(f"{BASE}/return", status_code=200)
async def return_submission(
    village: VillageDep,
    period: PeriodPath,
    session: SessionDep,
    caller: CallerDep,
    response: Response,
    comment: Comment = None,
    if_match: IfMatch = None,
) -> SubmissionPublic:
    """Return the submission to the village head with a comment (required) on what to fix."""
    return await _step(session, village, period, "return", caller, comment, if_match, response)


@router.post(f"{BASE}/reopen", status_code=200)
async def reopen_submission(
    village: VillageDep,
    period: PeriodPath,
    session: SessionDep,
    caller: CallerDep,
    response: Response,
    comment: Comment = None,
    if_match: IfMatch = None,
) -> SubmissionPublic:
    """Reopen an approved or returned submission: back to `submitted`, editable again."""
    return await _step(session, village, period, "reopen", caller, comment, if_match, response)


@router.get("/submissions", status_code=200)
async def list_submissions(
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    period: PeriodQuery,
    unit: Annotated[str | None, Query(max_length=32, description="A unit: its subtree.")] = None,
    status: StatusFilter = None,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> Page[SubmissionPublic]:
    """The review queue: submissions under a unit (default: your own), oldest change first."""
    scope = request.state.scope_unit or await reviews.caller_unit(session, caller)
    return await reviews.queue(session, unit=scope, period=period, status=status,
                               limit=limit, cursor=cursor)  # fmt: skip


@router.post(
    "/submissions/import",
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
