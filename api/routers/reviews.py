"""Review: approve, return or reopen a village's submission."""

from typing import Annotated

from fastapi import Body, Header, Response
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.caller import Caller
from api.services import reviews, submissions
from api.web.deps import CallerDep, PeriodPath, SessionDep, VillageDep, resource_router
from criteria.periods import Period
from models.submissions import SubmissionPublic
from models.units import Unit

router = resource_router(tags=["reviews"])
BASE = "/villages/{village_code}/submissions/{period}"
Comment = Annotated[str | None, Body(embed=True, max_length=4000)]
IfMatch = Annotated[
    str | None,
    Header(max_length=200, description="ETag of the submission you reviewed (stale: 412)."),
]


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
