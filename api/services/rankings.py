"""Summaries of the villages under a unit, from the roll-ups; the latest scored period."""

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import ColumnElement, Integer, case, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from api.core.caller import Caller
from api.core.problems import NotFound
from api.core.scope import under, visible_scores
from criteria.periods import Period
from models.scores import (
    IndicatorRollup,
    IndicatorSummary,
    Score,
    ScoreIndicator,
    SummaryPublic,
)
from models.units import Unit


def _under(unit: Unit) -> ColumnElement[bool]:
    return under(
        unit,
        province_id=Score.province_id,
        commune_id=Score.commune_id,
        village_id=Score.village_id,
    )


async def latest_period(session: AsyncSession, *, unit: Unit, caller: Caller) -> str:
    """The latest period with a score in scope, or 404."""
    stmt = select(func.max(Score.period)).where(_under(unit), visible_scores(caller))
    period = await session.scalar(stmt)
    if period is None:
        raise NotFound(f"No village under {unit.code!r} has a score yet.")
    return str(period)


def _round(value: Any, places: str) -> Decimal | None:
    if value is None:
        return None
    return Decimal(str(value)).quantize(Decimal(places), rounding=ROUND_HALF_UP)


async def _unit_counts(session: AsyncSession, unit: Unit) -> tuple[int, int]:
    if unit.level != "province":
        return 1, 1
    stmt = (
        select(col(Unit.level), func.count())
        .where(col(Unit.province_id) == unit.id)
        .group_by(col(Unit.level))
    )
    counts = {str(level): int(n) for level, n in (await session.execute(stmt)).all()}
    return counts.get("village", 0), counts.get("commune", 0)


async def _village_count(session: AsyncSession, unit: Unit) -> int:
    if unit.level == "village":
        return 1
    stmt = select(func.count()).where(col(Unit.commune_id) == unit.id, col(Unit.level) == "village")
    return int(await session.scalar(stmt) or 0)


async def summary(
    session: AsyncSession, *, unit: Unit, period: Period | None, caller: Caller
) -> SummaryPublic:
    """Counts and per-indicator mean / pass rate for the villages under `unit`."""
    wanted = str(period) if period else await latest_period(session, unit=unit, caller=caller)
    scope = (_under(unit), col(Score.period) == wanted, visible_scores(caller))
    met = col(Score.status) == "met"
    counts = (
        await session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(cast(met, Integer)), 0),
                func.count(func.distinct(case((met, col(Score.commune_id))))),
            ).where(*scope)
        )
    ).one()
    villages_total, communes_total = await _unit_counts(session, unit)
    if unit.level == "commune":
        villages_total = await _village_count(session, unit)
    return SummaryPublic(
        unit_code=unit.code,
        period=wanted,
        villages_total=villages_total,
        villages_reported=counts[0],
        villages_met=int(counts[1]),
        communes_total=communes_total,
        communes_with_smart_village=counts[2],
        indicators=await _indicator_stats(session, unit=unit, period=wanted, caller=caller),
    )


async def _indicator_stats(
    session: AsyncSession, *, unit: Unit, period: str, caller: Caller
) -> list[IndicatorSummary]:
    if unit.level == "village":
        return await _village_indicators(session, unit=unit, period=period, caller=caller)
    r = IndicatorRollup
    n, passed, total = (
        (col(r.approved_villages), col(r.approved_passed), col(r.approved_value_sum))
        if caller.approved_only
        else (col(r.villages), col(r.passed), col(r.value_sum))
    )
    level_id = col(r.province_id) if unit.level == "province" else col(r.commune_id)
    code = col(r.indicator_code)
    stmt = (
        select(code, func.sum(n), func.sum(passed), func.sum(total))
        .where(level_id == unit.id, col(r.period) == period)
        .group_by(code)
        .order_by(code)
    )
    rows = (await session.execute(stmt)).all()
    return [
        IndicatorSummary(
            code=code,
            mean=_round(Decimal(str(value_sum)) / count, "0.01"),
            pass_rate=_round(Decimal(int(n_passed)) / count, "0.0001"),
            villages=int(count),
        )
        for code, count, n_passed, value_sum in rows
        if count
    ]


async def _village_indicators(
    session: AsyncSession, *, unit: Unit, period: str, caller: Caller
) -> list[IndicatorSummary]:
    si = ScoreIndicator
    scored = select(col(Score.submission_id)).where(
        col(Score.village_id) == unit.id, col(Score.period) == period, visible_scores(caller)
    )
    stmt = (
        select(col(si.indicator_code), col(si.value), col(si.passed))
        .where(col(si.submission_id).in_(scored))
        .order_by(col(si.indicator_code))
    )
    return [
        IndicatorSummary(code=code, mean=_round(value, "0.01"),
                         pass_rate=Decimal(int(passed)).quantize(Decimal("0.0001")), villages=1)
        for code, value, passed in (await session.execute(stmt)).all()
    ]  # fmt: skip
