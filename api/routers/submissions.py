"""Submissions of a village's indicator values for a period, with every revision kept."""

from typing import Annotated

from fastapi import Header, Response

from api.core.pagination import DEFAULT_LIMIT, Page
from api.services import submissions as service
from api.web.deps import (
    CallerDep,
    CursorQuery,
    LimitQuery,
    PeriodPath,
    SessionDep,
    VillageDep,
    resource_router,
)
from models.submissions import RevisionPublic, SubmissionIn, SubmissionPublic

router = resource_router(prefix="/villages", tags=["submissions"])
IfMatch = Annotated[str | None, Header(description="ETag of the revision you edited.")]


@router.put(
    "/{village_code}/submissions/{period}",
    status_code=200,
    responses={201: {"model": SubmissionPublic, "description": "Created"}},
)
async def put_submission(
    village: VillageDep,
    period: PeriodPath,
    body: SubmissionIn,
    session: SessionDep,
    caller: CallerDep,
    response: Response,
    if_match: IfMatch = None,
) -> SubmissionPublic:
    """Create or revise the village's submission for a period (the whole `values` map)."""
    sub, created = await service.put(
        session, village=village, period=period, body=body, actor=caller, if_match=if_match
    )
    response.status_code = 201 if created else 200
    response.headers["ETag"] = service.etag(sub)
    return service.to_public(sub, village)


@router.get("/{village_code}/submissions/{period}", status_code=200)
async def get_submission(
    village: VillageDep, period: PeriodPath, session: SessionDep, response: Response
) -> SubmissionPublic:
    """The current revision of the village's submission for a period."""
    sub = await service.get(session, village=village, period=period)
    response.headers["ETag"] = service.etag(sub)
    return service.to_public(sub, village)


@router.get("/{village_code}/submissions/{period}/revisions", status_code=200)
async def list_submission_revisions(
    village: VillageDep,
    period: PeriodPath,
    session: SessionDep,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> Page[RevisionPublic]:
    """Every revision of the submission, oldest first."""
    return await service.revisions(
        session, village=village, period=period, limit=limit, cursor=cursor
    )
