"""Summaries of the villages under a unit, from the roll-ups; the latest scored period."""

from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from api.core.caller import Caller
from api.core.problems import NotFound
from api.core.scope import under, visible_scores
from api.infra.reads import Reads
from criteria.periods import Period
from models.base import table_of
from models.scores import (
    IndicatorRollup,
    IndicatorSummary,
    Score,
    ScoreIndicator,
    SummaryPublic,
)
from models.units import Unit

SCORE = table_of(Score)
UNIT = table_of(Unit)
ROLLUP = table_of(IndicatorRollup)
_BY_LEVEL = {"province": SCORE.c.province_id, "commune": SCORE.c.commune_id}


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


def _scope(level: str, approved_only: bool) -> list[ColumnElement[bool]]:
    where = [_BY_LEVEL.get(level, SCORE.c.village_id) == bindparam("unit_id")]
    return where + ([SCORE.c.submission_status == "approved"] if approved_only else [])


def _units_total(level: str) -> tuple[Any, Any]:
    """The villages and communes a unit holds (a commune is one, a village is one)."""
    if level == "village":
        return literal(1), literal(1)
    is_village = UNIT.c.level == "village"
    if level == "commune":
        in_commune = UNIT.c.commune_id == bindparam("unit_id")
        return select(func.count()).where(in_commune, is_village).scalar_subquery(), literal(1)
    in_province = UNIT.c.province_id == bindparam("unit_id")
    villages = select(func.count()).where(in_province, is_village)
    communes = select(func.count()).where(in_province, UNIT.c.level == "commune")
    return villages.scalar_subquery(), communes.scalar_subquery()


@lru_cache(maxsize=32)
def counts_select(level: str, *, approved_only: bool, period: bool) -> Select[Any]:
    """One statement: the period (the latest visible one unless given), villages reported
    and met there, communes with a met village, and the unit's villages and communes; on
    PostgreSQL an index-only scan of the ranking index."""
    scope = _scope(level, approved_only)
    wanted: Any = bindparam("period")
    if not period:
        wanted = select(func.max(SCORE.c.period)).where(*scope).scalar_subquery()
    met = SCORE.c.status == "met"
    return select(
        func.max(SCORE.c.period),
        func.count(),
        func.coalesce(func.sum(case((met, 1), else_=0)), 0),
        func.count(func.distinct(case((met, SCORE.c.commune_id)))),
        *_units_total(level),
    ).where(*scope, SCORE.c.period == wanted)


async def summary(
    reads: Reads, session: AsyncSession, *, unit: Unit, period: Period | None, caller: Caller
) -> SummaryPublic:
    """Counts and per-indicator mean / pass rate for the villages under `unit`."""
    stmt = counts_select(unit.level, approved_only=caller.approved_only, period=bool(period))
    row = await reads.first(stmt, {"unit_id": unit.id, "period": str(period or "")})
    assert row is not None  # an aggregate always answers one row
    found, reported, met, communes_met, villages_total, communes_total = row
    wanted = str(period) if period else found
    if wanted is None:
        raise NotFound(f"No village under {unit.code!r} has a score yet.")
    return SummaryPublic(
        unit_code=unit.code,
        period=wanted,
        villages_total=int(villages_total),
        villages_reported=int(reported),
        villages_met=int(met),
        communes_total=int(communes_total),
        communes_with_smart_village=int(communes_met),
        indicators=await _indicator_stats(reads, session, unit=unit, period=wanted, caller=caller),
    )


@lru_cache(maxsize=8)
def rollup_select(level: str, *, approved_only: bool) -> Select[Any]:
    """Per indicator: villages with a value, passes and the values' sum, from the roll-ups."""
    r = ROLLUP.c
    n, passed, total = (
        (r.approved_villages, r.approved_passed, r.approved_value_sum)
        if approved_only
        else (r.villages, r.passed, r.value_sum)
    )
    level_id = r.province_id if level == "province" else r.commune_id
    return (
        select(r.indicator_code, func.sum(n), func.sum(passed), func.sum(total))
        .where(level_id == bindparam("unit_id"), r.period == bindparam("period"))
        .group_by(r.indicator_code)
        .order_by(r.indicator_code)
    )


async def _indicator_stats(
    reads: Reads, session: AsyncSession, *, unit: Unit, period: str, caller: Caller
) -> list[IndicatorSummary]:
    if unit.level == "village":
        return await _village_indicators(session, unit=unit, period=period, caller=caller)
    stmt = rollup_select(unit.level, approved_only=caller.approved_only)
    rows = await reads.all(stmt, {"unit_id": unit.id, "period": period})
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
