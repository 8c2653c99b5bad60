"""Which criteria-set version scores a village-period (SPEC §6), with parsed documents cached."""

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from criteria.document import CriteriaDocument, parse_document
from criteria.periods import Period
from models.criteria_sets import CriteriaSetVersion

# Keyed by id and creation time: a row id can come back after a rolled-back insert
# (SQLite reuses rowids), the pair cannot.
_DOCS: dict[tuple[int, datetime], CriteriaDocument] = {}


@dataclass(frozen=True)
class ActiveVersion:
    """A published version, ready to score with."""

    id: int
    code: str
    version: int
    scope: str
    period_type: str
    effective_start: date
    published_at: datetime | None
    doc: CriteriaDocument


def document_of(row: CriteriaSetVersion) -> CriteriaDocument:
    """The parsed document of a stored version (cached: a version's document never changes)."""
    assert row.id is not None
    key = (row.id, row.created_at)
    doc = _DOCS.get(key)
    if doc is None or doc.code != row.code or doc.version != row.version:
        doc = parse_document(row.document)
        _DOCS[key] = doc
    return doc


async def published_versions(session: AsyncSession) -> list[ActiveVersion]:
    """Every published version (a handful of rows)."""
    rows = await session.execute(
        select(CriteriaSetVersion).where(col(CriteriaSetVersion.status) == "published")
    )
    return [
        ActiveVersion(
            id=r.id or 0,
            code=r.code,
            version=r.version,
            scope=r.scope,
            period_type=r.period_type,
            effective_start=r.effective_start,
            published_at=r.published_at,
            doc=document_of(r),
        )
        for r in rows.scalars()
    ]


def choose(
    versions: list[ActiveVersion], province_code: str, period: Period
) -> ActiveVersion | None:
    """The version in force: the province's own if any applies, else national; latest wins."""
    start = period.start
    for scope in (province_code, "national"):
        candidates = [v for v in versions if v.scope == scope and v.effective_start <= start]
        if candidates:
            return max(candidates, key=_recency)
    return None


def _recency(v: ActiveVersion) -> tuple[date, float, int]:
    return (v.effective_start, v.published_at.timestamp() if v.published_at else 0.0, v.version)
