"""A village's stored score with per-indicator detail, and its trend over periods."""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from api.core.caller import Caller
from api.core.pagination import Page, decode_cursor, page_of
from api.core.problems import NotFound
from api.core.scope import visible_scores
from api.infra.reads import Reads
from api.services.score_body import ScoreFacts, score_body
from api.services.scoring import clean_values
from api.services.versions import document_of
from criteria.engine import score
from criteria.periods import Period
from models.base import table_of
from models.criteria_sets import CriteriaSetVersion
from models.scores import CriteriaSetRef, Score, SubmissionRef, TrendItem
from models.submissions import Submission
from models.units import Unit

SCORE = table_of(Score)
UNIT = table_of(Unit)


def _score_select(*, period: bool, approved_only: bool) -> Select[Any]:
    """The stored answer for one village: of `:period`, or its latest period."""
    stmt = select(SCORE.c.body, SCORE.c.etag, SCORE.c.id).where(
        SCORE.c.village_id == bindparam("village_id")
    )
    if period:
        stmt = stmt.where(SCORE.c.period == bindparam("period"))
    if approved_only:
        stmt = stmt.where(SCORE.c.submission_status == "approved")
    # The unique (village_id, period) index, read backwards: one row.
    return stmt.order_by(SCORE.c.period.desc()).limit(1)


_SCORE_SELECTS = {
    (period, approved): _score_select(period=period, approved_only=approved)
    for period in (False, True)
    for approved in (False, True)
}


def _by_code_select(*, period: bool, approved_only: bool) -> Select[Any]:
    """The village named by `:code`, where it sits, and its stored answer (of `:period`,
    or its latest), in one statement: the unit's unique code, then the score index."""
    joined = SCORE.c.village_id == UNIT.c.id
    if period:
        joined = joined & (SCORE.c.period == bindparam("period"))
    if approved_only:
        joined = joined & (SCORE.c.submission_status == "approved")
    place = (UNIT.c.id, UNIT.c.level, UNIT.c.province_id, UNIT.c.commune_id)
    return (
        select(*place, SCORE.c.body, SCORE.c.etag)
        .select_from(UNIT.outerjoin(SCORE, joined))
        .where(UNIT.c.code == bindparam("code"))
        .order_by(SCORE.c.period.desc().nulls_last())
        .limit(1)
    )


_BY_CODE_SELECTS = {
    (period, approved): _by_code_select(period=period, approved_only=approved)
    for period in (False, True)
    for approved in (False, True)
}


@dataclass(frozen=True)
class PlacedAnswer:
    """A unit found by code, where it sits (for the caller's scope), and the stored answer
    of its score (None: no score, or one stored before answers were)."""

    id: int | None
    level: str
    province_id: int | None
    commune_id: int | None
    body: bytes | None
    etag: str | None


async def stored_answer(
    reads: Reads, *, code: str, period: Period | None, caller: Caller
) -> PlacedAnswer | None:
    """The unit with this code and its stored score answer, in one indexed read (None when
    no unit has the code)."""
    stmt = _BY_CODE_SELECTS[(period is not None, caller.approved_only)]
    row = await reads.first(stmt, {"code": code, "period": str(period) if period else None})
    if row is None:
        return None
    unit_id, level, province_id, commune_id, body, etag = row
    stored = bytes(body) if body is not None else None
    return PlacedAnswer(unit_id, level, province_id, commune_id, stored, etag)


async def village_score(
    reads: Reads,
    session: AsyncSession,
    *,
    village: Unit,
    period: Period | None,
    caller: Caller,
) -> tuple[bytes, str]:
    """The explained score for a period (default: the latest scored one) as the JSON bytes
    and ETag its write stored: one indexed read."""
    stmt = _SCORE_SELECTS[(period is not None, caller.approved_only)]
    params: dict[str, Any] = {"village_id": village.id, "period": str(period) if period else None}
    row = await reads.first(stmt, params)
    if row is None:
        when = f"for {period}" if period else "for any period"
        raise NotFound(f"Village {village.code!r} has no score {when}.")
    body, etag, score_id = row
    if body is None or etag is None:
        return await render_stored(session, score_id)
    return bytes(body), str(etag)


async def render_stored(session: AsyncSession, score_id: int) -> tuple[bytes, str]:
    """The answer for a score stored before bodies were (until `smartvillage rescore`)."""
    stmt = (
        select(Score, col(Submission.values), CriteriaSetVersion)
        .join(Submission, col(Submission.id) == Score.submission_id)
        .join(CriteriaSetVersion, col(CriteriaSetVersion.id) == Score.criteria_set_version_id)
        .where(col(Score.id) == score_id)
    )
    stored, values, version = (await session.execute(stmt)).one()
    facts = ScoreFacts(
        village_code=stored.village_code,
        period=stored.period,
        criteria_set_code=version.code,
        criteria_set_version=version.version,
        submission_status=stored.submission_status,
        submission_revision=stored.submission_revision,
        computed_at=stored.computed_at,
    )
    return score_body(facts, score(document_of(version), clean_values(values)))


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
