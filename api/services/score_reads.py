"""A village's stored score with per-indicator detail, and its trend over periods."""

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from api.core.caller import Caller
from api.core.pagination import Page, decode_cursor, page_of
from api.core.problems import NotFound
from api.core.scope import visible_scores
from api.services.scoring import clean_values
from api.services.versions import document_of
from criteria.engine import IndicatorResult, score
from criteria.periods import Period
from models.criteria_sets import CriteriaSetVersion
from models.scores import (
    CriteriaSetRef,
    GapPublic,
    IndicatorPublic,
    Score,
    ScorePublic,
    SubmissionRef,
    TargetPublic,
    TrendItem,
)
from models.submissions import Submission
from models.units import Unit


async def village_score(
    session: AsyncSession, *, village: Unit, period: Period | None, caller: Caller
) -> ScorePublic:
    """The score for a period (default: the latest scored one), each indicator explained."""
    visible = visible_scores(caller)
    wanted = str(period) if period else None
    if wanted is None:
        stmt = select(func.max(Score.period)).where(col(Score.village_id) == village.id, visible)
        wanted = await session.scalar(stmt)
    row = None
    if wanted is not None:
        stmt2 = (
            select(Score, col(Submission.values), CriteriaSetVersion)
            .join(Submission, col(Submission.id) == Score.submission_id)
            .join(CriteriaSetVersion, col(CriteriaSetVersion.id) == Score.criteria_set_version_id)
            .where(col(Score.village_id) == village.id, col(Score.period) == wanted, visible)
        )
        row = (await session.execute(stmt2)).first()
    if row is None:
        when = f"for {wanted}" if period else "for any period"
        raise NotFound(f"Village {village.code!r} has no score {when}.")
    stored, values, version = row
    result = score(document_of(version), clean_values(values))
    return ScorePublic(
        village_code=village.code,
        period=stored.period,
        criteria_set=CriteriaSetRef(code=version.code, version=version.version),
        status=stored.status,
        score=stored.score,
        submission=SubmissionRef(
            status=stored.submission_status, revision=stored.submission_revision
        ),
        indicators=[indicator_public(i) for i in result.indicators],
        computed_at=stored.computed_at,
    )


def indicator_public(ind: IndicatorResult) -> IndicatorPublic:
    """The API shape of one indicator's result."""
    return IndicatorPublic(
        code=ind.code,
        criterion=ind.criterion,
        kind=ind.kind,
        value=ind.value,
        target=TargetPublic(op=ind.target_op, value=ind.target_value),
        passed=ind.passed,
        applicable=ind.applicable,
        mandatory=ind.mandatory,
        attainment=ind.attainment,
        gap=GapPublic(measure=ind.gap.measure, amount=ind.gap.amount) if ind.gap else None,
    )


async def village_trend(
    session: AsyncSession, *, village: Unit, caller: Caller, limit: int, cursor: str | None
) -> Page[TrendItem]:
    """One score per period, oldest first."""
    key = decode_cursor(cursor, fields={"period": str})
    stmt = (
        select(Score, col(CriteriaSetVersion.code), col(CriteriaSetVersion.version))
        .join(CriteriaSetVersion, col(CriteriaSetVersion.id) == Score.criteria_set_version_id)
        .where(col(Score.village_id) == village.id, visible_scores(caller))
        .order_by(col(Score.period))
        .limit(limit + 1)
    )
    if key:
        stmt = stmt.where(Score.period > key["period"])
    items = [
        TrendItem(
            period=s.period,
            score=s.score,
            status=s.status,
            criteria_set=CriteriaSetRef(code=code, version=version),
            submission=SubmissionRef(status=s.submission_status, revision=s.submission_revision),
            computed_at=s.computed_at,
        )
        for s, code, version in (await session.execute(stmt)).all()
    ]
    return page_of(items, limit, lambda t: {"period": t.period})
