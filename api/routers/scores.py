"""Scores: one village's score and trend; rankings and summaries under a unit."""

from typing import Annotated

from fastapi import Query, Response

from api.core.pagination import DEFAULT_LIMIT, Page
from api.services import ranking_page, rankings
from api.services import score_reads as scores
from api.services.ranking_page import ScoreStatus, Sort
from api.web.deps import (
    CallerDep,
    CursorQuery,
    LimitQuery,
    PeriodQuery,
    ReadsDep,
    SessionDep,
    UnitDep,
    VillageDep,
    resource_router,
)
from models.scores import RankingItem, ScorePublic, SummaryPublic, TrendItem

router = resource_router(tags=["scores"])
SortQuery = Annotated[Sort, Query(description="`-score` (default), `score` or `village_code`.")]
StatusQuery = Annotated[ScoreStatus | None, Query(description="Only villages with this status.")]


@router.get("/villages/{village_code}/score", status_code=200, response_model=ScorePublic)
async def get_village_score(
    village: VillageDep,
    period: PeriodQuery,
    reads: ReadsDep,
    session: SessionDep,
    caller: CallerDep,
) -> Response:
    """The village's score for a period (latest if omitted), every indicator explained."""
    body, etag = await scores.village_score(
        reads, session, village=village, period=period, caller=caller
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
    unit: UnitDep,
    period: PeriodQuery,
    reads: ReadsDep,
    session: SessionDep,
    caller: CallerDep,
    status: StatusQuery = None,
    sort: SortQuery = "-score",
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> Response:
    """Villages under the unit with a score for the period, ranked."""
    body = await ranking_page.ranking(
        reads,
        session,
        unit=unit,
        period=period,
        status=status,
        sort=sort,
        caller=caller,
        limit=limit,
        cursor=cursor,
    )
    return Response(body, media_type="application/json")


@router.get("/units/{code}/summary", status_code=200)
async def get_unit_summary(
    unit: UnitDep, period: PeriodQuery, session: SessionDep, caller: CallerDep
) -> SummaryPublic:
    """Villages total / reported / met, communes with a smart village, per-indicator stats."""
    return await rankings.summary(session, unit=unit, period=period, caller=caller)
