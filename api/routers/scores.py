"""Scores: one village's score and trend; rankings and summaries under a unit."""

from typing import Annotated

from fastapi import Path, Query, Request, Response

from api.core.pagination import DEFAULT_LIMIT, Page
from api.services import ranking_page, rankings
from api.services import score_reads as scores
from api.services.ranking_page import ScoreStatus, Sort
from api.web.deps import (
    AccessDep,
    CallerDep,
    CursorQuery,
    LimitQuery,
    PeriodText,
    SessionDep,
    VillageDep,
    optional_period,
    reads_of,
    resource_router,
    scope_unit_of,
)
from models.scores import RankingItem, ScorePublic, SummaryPublic, TrendItem

router = resource_router(tags=["scores"])
SortQuery = Annotated[Sort, Query(description="`-score` (default), `score` or `village_code`.")]
CodePath = Annotated[str, Path(max_length=32)]
StatusQuery = Annotated[ScoreStatus | None, Query(description="Only villages with this status.")]


# The two hottest reads declare as few dependencies as they can (FastAPI solves each one
# on every request): the guard's `access` carries the caller and the path's unit.


@router.get("/villages/{village_code}/score", status_code=200, response_model=ScorePublic)
async def get_village_score(
    request: Request,
    village_code: CodePath,
    access: AccessDep,
    session: SessionDep,
    period: PeriodText = None,
) -> Response:
    """The village's score for a period (latest if omitted), every indicator explained."""
    assert access.caller is not None
    body, etag = await scores.village_score(
        reads_of(request),
        session,
        village=scope_unit_of(access),
        period=optional_period(period),
        caller=access.caller,
    )
    return Response(body, media_type="application/json", headers={"ETag": etag})


@router.get("/villages/{village_code}/scores", status_code=200)
async def list_village_scores(
    village: VillageDep,
    session: SessionDep,
    caller: CallerDep,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> Page[TrendItem]:
    """The village's score per period, oldest first (its trend)."""
    return await scores.village_trend(
        session, village=village, caller=caller, limit=limit, cursor=cursor
    )


@router.get("/units/{code}/scores", status_code=200, response_model=Page[RankingItem])
async def list_unit_rankings(
    request: Request,
    code: CodePath,
    access: AccessDep,
    session: SessionDep,
    status: StatusQuery = None,
    sort: SortQuery = "-score",
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
    period: PeriodText = None,
) -> Response:
    """Villages under the unit with a score for the period, ranked."""
    assert access.caller is not None
    body = await ranking_page.ranking(
        reads_of(request),
        session,
        unit=scope_unit_of(access),
        period=optional_period(period),
        status=status,
        sort=sort,
        caller=access.caller,
        limit=limit,
        cursor=cursor,
    )
    return Response(body, media_type="application/json")


@router.get("/units/{code}/summary", status_code=200)
async def get_unit_summary(
    request: Request,
    code: CodePath,
    access: AccessDep,
    session: SessionDep,
    period: PeriodText = None,
) -> SummaryPublic:
    """Villages total / reported / met, communes with a smart village, per-indicator stats."""
    assert access.caller is not None
    return await rankings.summary(
        reads_of(request),
        session,
        unit=scope_unit_of(access),
        period=optional_period(period),
        caller=access.caller,
    )
