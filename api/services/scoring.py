"""Stored scores: compute with the pure engine and write set-based, one batch at a time.

Every path that changes what a village-period's score should be (a submission change,
publishing or retiring a criteria set, `smartvillage rescore`) ends here, inside the
caller's transaction.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from api.core.metrics import RESCORED
from api.services import rollups
from api.services.bulk import copy_records, delete_in
from api.services.score_body import ScoreFacts, score_body
from api.services.versions import ActiveVersion, choose, published_versions
from criteria.engine import VillageScore, score
from criteria.periods import Period
from models.base import table_of, utcnow
from models.scores import Score, ScoreIndicator
from models.submissions import Submission
from models.units import Unit

SCORE_TABLE = table_of(Score)
INDICATOR_TABLE = table_of(ScoreIndicator)


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


SCORE_COLUMNS = (
    "submission_id", "village_id", "commune_id", "province_id", "village_code", "period",
    "criteria_set_version_id", "status", "score", "submission_revision", "submission_status",
    "computed_at", "body", "etag",
)  # fmt: skip
FACT_COLUMNS = (
    "submission_id", "commune_id", "province_id", "period", "indicator_code", "value", "passed",
)  # fmt: skip
Records = tuple[tuple[Any, ...], list[tuple[Any, ...]]]  # a score record and its facts


def _records(
    row: ScoringRow, version: ActiveVersion, result: VillageScore, now: datetime
) -> Records:
    facts = ScoreFacts(
        village_code=row.village_code,
        period=row.period,
        criteria_set_code=version.code,
        criteria_set_version=version.version,
        submission_status=row.status,
        submission_revision=row.revision,
        computed_at=now,
    )
    body, etag = score_body(facts, result)
    score_record = (
        row.submission_id, row.village_id, row.commune_id, row.province_id, row.village_code,
        row.period, version.id, result.status, result.score, row.revision, row.status, now,
        body, etag,
    )  # fmt: skip
    indicator_facts = [
        (row.submission_id, row.commune_id, row.province_id, row.period, ind.code,
         indicator_fact(ind.value), bool(ind.passed))
        for ind in result.indicators
        if ind.applicable and ind.value is not None
    ]  # fmt: skip
    return score_record, indicator_facts


def scored_records(row: ScoringRow, versions: list[ActiveVersion], now: datetime) -> Records | None:
    """Score one submission with the version in force: its score record and fact records
    (None when no version applies or its period type differs). Pure: bulk workers run it."""
    period = Period.parse(row.period)
    version = choose(versions, row.province_code, period)
    if version is None or version.period_type != period.kind:
        return None
    result = score(version.doc, clean_values(row.values))
    return _records(row, version, result, now)


async def score_rows(
    session: AsyncSession,
    rows: Sequence[ScoringRow],
    versions: list[ActiveVersion],
    *,
    fresh: bool = False,
) -> int:
    """Replace the stored scores of these submissions; returns how many now have a score.

    `fresh` says the submissions are new (nothing stored to delete), as in `generate`.
    """
    scores: list[tuple[Any, ...]] = []
    facts: list[tuple[Any, ...]] = []
    now = utcnow()
    for row in rows:
        records = scored_records(row, versions, now)
        if records is not None:
            scores.append(records[0])
            facts.extend(records[1])
    ids = [r.submission_id for r in rows]
    if not fresh:
        await rollups.add_facts(session, ids, sign=-1)
        await delete_in(session, INDICATOR_TABLE, "submission_id", ids)
        await delete_in(session, SCORE_TABLE, "submission_id", ids)
    await copy_records(session, SCORE_TABLE, SCORE_COLUMNS, scores)
    await copy_records(session, INDICATOR_TABLE, FACT_COLUMNS, facts)
    await rollups.add_facts(session, ids, sign=1)
    RESCORED.inc(len(scores))
    return len(scores)


def scoring_select() -> Any:
    province = aliased(Unit)
    village = aliased(Unit)
    return (
        select(
            col(Submission.id),
            col(Submission.village_id),
            col(village.code),
            col(village.commune_id),
            col(village.province_id),
            col(province.code),
            col(Submission.period),
            col(Submission.revision),
            col(Submission.status),
            col(Submission.values),
        )
        .join(village, col(village.id) == Submission.village_id)
        .join(province, col(province.id) == village.province_id)
    )


async def rescore(
    session: AsyncSession,
    *,
    where: ColumnElement[bool] | None = None,
    batch: int = 2000,
    fresh: bool = False,
) -> int:
    """Rescore every submission matching `where` (default: all), in keyset batches."""
    versions = await published_versions(session)
    stmt = scoring_select().where(where if where is not None else true())
    last_id, total = 0, 0
    while True:
        page = await session.execute(
            stmt.where(col(Submission.id) > last_id).order_by(col(Submission.id)).limit(batch)
        )
        rows = [ScoringRow(*r) for r in page.all()]
        if not rows:
            return total
        total += await score_rows(session, rows, versions, fresh=fresh)
        last_id = rows[-1].submission_id


async def rescore_submissions(session: AsyncSession, submission_ids: Iterable[int]) -> int:
    """Rescore just these submissions (a PUT, a review step)."""
    ids = list(submission_ids)
    return await rescore(session, where=col(Submission.id).in_(ids))


async def rescore_after_publish(session: AsyncSession, *, scope: str, effective_year: int) -> int:
    """Rescore what a newly published version may now score: its scope, from its year on."""
    where = col(Submission.period) >= str(effective_year)
    if scope != "national":
        province_ids = select(col(Unit.id)).where(
            col(Unit.code) == scope, col(Unit.level) == "province"
        )
        villages = select(col(Unit.id)).where(col(Unit.province_id).in_(province_ids))
        where = where & col(Submission.village_id).in_(villages)
    return await rescore(session, where=where)


async def rescore_after_retire(session: AsyncSession, *, version_id: int) -> int:
    """Rescore the village-periods the retired version scored (another may take over)."""
    scored = select(col(Score.submission_id)).where(
        col(Score.criteria_set_version_id) == version_id
    )
    return await rescore(session, where=col(Submission.id).in_(scored))
