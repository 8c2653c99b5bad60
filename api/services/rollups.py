"""Per (commune, period, indicator) roll-ups of the stored indicator facts, for summaries."""

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Integer, case, cast, delete, func, insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.scores import IndicatorRollup, Score, ScoreIndicator

CHUNK = 400
ROLLUP = IndicatorRollup.__table__  # type: ignore[attr-defined]


def _aggregate(pairs: list[tuple[int, str]]) -> Any:
    si = ScoreIndicator
    passed = cast(si.passed, Integer)
    approved = case((Score.submission_status == "approved", 1), else_=0)
    return (
        select(
            si.commune_id,
            si.period,
            si.indicator_code,
            func.min(si.province_id),
            func.count(),
            func.sum(passed),
            func.sum(si.value),
            func.sum(approved),
            func.sum(approved * passed),
            func.sum(case((Score.submission_status == "approved", si.value), else_=0)),
        )
        .join(Score, Score.submission_id == si.submission_id)
        .where(tuple_(si.commune_id, si.period).in_(pairs))
        .group_by(si.commune_id, si.period, si.indicator_code)
    )


async def refresh(session: AsyncSession, pairs: Iterable[tuple[int, str]]) -> None:
    """Recompute the roll-ups of these (commune id, period) pairs from the stored facts."""
    ordered = sorted(set(pairs))
    columns = [c.name for c in ROLLUP.columns]
    for start in range(0, len(ordered), CHUNK):
        chunk = ordered[start : start + CHUNK]
        key = tuple_(IndicatorRollup.commune_id, IndicatorRollup.period)
        await session.execute(delete(IndicatorRollup).where(key.in_(chunk)))
        await session.execute(insert(IndicatorRollup).from_select(columns, _aggregate(chunk)))


async def refresh_communes(session: AsyncSession, commune_ids: Iterable[int]) -> None:
    """Recompute every period of these communes (after villages move between communes)."""
    ids = sorted(set(commune_ids))
    stmt = select(Score.commune_id, Score.period).where(Score.commune_id.in_(ids)).distinct()  # type: ignore[attr-defined]
    stored = select(IndicatorRollup.commune_id, IndicatorRollup.period).where(
        IndicatorRollup.commune_id.in_(ids)  # type: ignore[attr-defined]
    )
    pairs = {(c, p) for c, p in (await session.execute(stmt)).all()}
    pairs |= {(c, p) for c, p in (await session.execute(stored)).all()}
    await refresh(session, pairs)


async def move_communes(session: AsyncSession, moves: dict[int, int]) -> None:
    """Communes moved to another province: their roll-ups follow (commune id → province id)."""
    for commune_id, province_id in moves.items():
        await session.execute(
            update(IndicatorRollup)
            .where(IndicatorRollup.commune_id == commune_id)  # type: ignore[arg-type]
            .values(province_id=province_id)
        )
