"""Stored scores: compute with the pure engine and write set-based, one batch at a time.

Every path that changes what a village-period's score should be (a submission change,
publishing or retiring a criteria set, `smartvillage rescore`) ends here, inside the
caller's transaction.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from api.services.bulk import bulk_insert, delete_in
from api.services.versions import ActiveVersion, choose, published_versions
from criteria.engine import VillageScore, score
from criteria.periods import Period
from models.base import utcnow
from models.scores import Score, ScoreIndicator
from models.submissions import Submission
from models.units import Unit

SCORE_TABLE = Score.__table__  # type: ignore[attr-defined]
INDICATOR_TABLE = ScoreIndicator.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class ScoringRow:
    """What scoring one submission needs, read in one set-based query."""

    submission_id: int
    village_id: int
    village_code: str
    commune_id: int
    province_id: int
    province_code: str
    period: str
    revision: int
    status: str
    values: dict[str, Any]


def clean_values(values: dict[str, Any]) -> dict[str, int | bool | Decimal]:
    """Stored JSON values → engine values (non-integral numbers become exact Decimals)."""
    out: dict[str, int | bool | Decimal] = {}
    for key, value in values.items():
        if isinstance(value, float):
            out[key] = Decimal(repr(value))
        elif value is not None:
            out[key] = value
    return out


def indicator_fact(value: Decimal | int | bool | None) -> Decimal:
    """The number summaries average: percent, count, or 1/0 for a boolean."""
    if isinstance(value, bool):
        return Decimal(int(value))
    return Decimal(value or 0)


def _rows_for(
    row: ScoringRow, version: ActiveVersion, result: VillageScore
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    now = utcnow()
    score_row = {
        "submission_id": row.submission_id,
        "village_id": row.village_id,
        "commune_id": row.commune_id,
        "province_id": row.province_id,
        "village_code": row.village_code,
        "period": row.period,
        "criteria_set_version_id": version.id,
        "status": result.status,
        "score": result.score,
        "submission_revision": row.revision,
        "submission_status": row.status,
        "computed_at": now,
    }
    facts = [
        {
            "submission_id": row.submission_id,
            "indicator_code": ind.code,
            "commune_id": row.commune_id,
            "province_id": row.province_id,
            "period": row.period,
            "value": indicator_fact(ind.value),
            "passed": bool(ind.passed),
        }
        for ind in result.indicators
        if ind.applicable and ind.value is not None
    ]
    return score_row, facts


async def score_rows(
    session: AsyncSession, rows: Sequence[ScoringRow], versions: list[ActiveVersion]
) -> int:
    """Replace the stored scores of these submissions; returns how many now have a score."""
    scores: list[dict[str, Any]] = []
    facts: list[dict[str, Any]] = []
    for row in rows:
        period = Period.parse(row.period)
        version = choose(versions, row.province_code, period)
        if version is None or version.period_type != period.kind:
            continue
        score_row, indicator_rows = _rows_for(
            row, version, score(version.doc, clean_values(row.values))
        )
        scores.append(score_row)
        facts.extend(indicator_rows)
    ids = [r.submission_id for r in rows]
    await delete_in(session, INDICATOR_TABLE, "submission_id", ids)
    await delete_in(session, SCORE_TABLE, "submission_id", ids)
    await bulk_insert(session, SCORE_TABLE, scores)
    await bulk_insert(session, INDICATOR_TABLE, facts)
    return len(scores)


def _scoring_select() -> Any:
    province = aliased(Unit)
    village = aliased(Unit)
    return (
        select(
            Submission.id,
            Submission.village_id,
            village.code,
            village.commune_id,
            village.province_id,
            province.code,
            Submission.period,
            Submission.revision,
            Submission.status,
            Submission.values,
        )
        .join(village, village.id == Submission.village_id)
        .join(province, province.id == village.province_id)
    )


async def rescore(
    session: AsyncSession, *, where: ColumnElement[bool] | None = None, batch: int = 2000
) -> int:
    """Rescore every submission matching `where` (default: all), in keyset batches."""
    versions = await published_versions(session)
    stmt = _scoring_select().where(where if where is not None else true())
    last_id, total = 0, 0
    while True:
        page = await session.execute(
            stmt.where(Submission.id > last_id).order_by(Submission.id).limit(batch)  # type: ignore[arg-type,operator]
        )
        rows = [ScoringRow(*r) for r in page.all()]
        if not rows:
            return total
        total += await score_rows(session, rows, versions)
        last_id = rows[-1].submission_id


async def rescore_submissions(session: AsyncSession, submission_ids: Iterable[int]) -> int:
    """Rescore just these submissions (a PUT, a review step)."""
    ids = list(submission_ids)
    return await rescore(session, where=Submission.id.in_(ids))  # type: ignore[union-attr]


async def rescore_after_publish(session: AsyncSession, *, scope: str, effective_year: int) -> int:
    """Rescore what a newly published version may now score: its scope, from its year on."""
    where = Submission.period >= str(effective_year)
    if scope != "national":
        province_ids = select(Unit.id).where(Unit.code == scope, Unit.level == "province")
        villages = select(Unit.id).where(Unit.province_id.in_(province_ids))  # type: ignore[union-attr]
        where = where & Submission.village_id.in_(villages)  # type: ignore[attr-defined]
    return await rescore(session, where=where)  # type: ignore[arg-type]


async def rescore_after_retire(session: AsyncSession, *, version_id: int) -> int:
    """Rescore the village-periods the retired version scored (another may take over)."""
    scored = select(Score.submission_id).where(Score.criteria_set_version_id == version_id)
    return await rescore(session, where=Submission.id.in_(scored))  # type: ignore[union-attr]
