"""Per (commune, period, indicator) roll-ups of the stored indicator facts, for summaries.

Writes to single villages change the roll-ups by increments: the facts a write replaces
are subtracted and the new ones added (`add_facts`), so neighbours saving at the same
moment only queue on the same rows for an instant and never conflict. Whole-scope work
(unit moves) recomputes (`refresh`), and a whole-nation rescore rebuilds them in one
statement (`rebuild`), under the exclusive scoring lock.
"""

from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Integer,
    bindparam,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    select,
    true,
    tuple_,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from models.base import table_of
from models.scores import IndicatorRollup, Score, ScoreIndicator

CHUNK = 400
ROLLUP = table_of(IndicatorRollup)
KEY = ("commune_id", "period", "indicator_code")
COUNTERS = (
    "villages", "passed", "value_sum", "approved_villages", "approved_passed",
    "approved_value_sum",
)  # fmt: skip


FACTS = table_of(ScoreIndicator)
SCORES = table_of(Score)


def _sums(sign: int) -> list[Any]:
    """The counters of a group of facts, multiplied by `sign` (+1 add, -1 remove)."""
    si = FACTS.c
    is_approved = SCORES.c.submission_status == "approved"
    passed = cast(si.passed, Integer)
    approved = case((is_approved, 1), else_=0)
    approved_value = case((is_approved, si.value), else_=0)
    factor = literal(sign)
    return [
        factor * func.count(),
        factor * func.sum(passed),
        factor * func.sum(si.value),
        factor * func.sum(approved),
        factor * func.sum(approved * passed),
        factor * func.sum(approved_value),
    ]


def _grouped(where: Any, sign: int) -> Any:
    si = FACTS.c
    return (
        select(si.commune_id, si.period, si.indicator_code, func.min(si.province_id), *_sums(sign))
        .join(SCORES, SCORES.c.submission_id == si.submission_id)
        .where(where)
        .group_by(si.commune_id, si.period, si.indicator_code)
        .order_by(si.commune_id, si.period, si.indicator_code)  # the lock order of step 4
    )


def _insert_for(dialect: str) -> Any:
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(ROLLUP)


@lru_cache(maxsize=8)
def add_facts_statement(dialect: str, sign: int) -> Any:
    """The upsert that adds (or removes) the facts of `:ids` to (from) the roll-ups, built
    once per dialect and sign so that SQLAlchemy compiles it once (a PUT runs it twice)."""
    columns = [*KEY, "province_id", *COUNTERS]
    where = FACTS.c.submission_id.in_(bindparam("ids", expanding=True))
    stmt = _insert_for(dialect).from_select(columns, _grouped(where, sign))
    return stmt.on_conflict_do_update(
        index_elements=list(KEY),
        set_={
            "province_id": stmt.excluded.province_id,
            **{c: ROLLUP.c[c] + stmt.excluded[c] for c in COUNTERS},
        },
    )


async def add_facts(session: AsyncSession, submission_ids: Sequence[int], *, sign: int) -> None:
    """Add (`sign=1`) or remove (`sign=-1`) the stored facts of these submissions to or
    from the roll-ups, as they are now (with their scores' review status)."""
    stmt = add_facts_statement((await session.connection()).dialect.name, sign)
    ids = sorted(set(submission_ids))
    for start in range(0, len(ids), CHUNK):
        await session.execute(stmt, {"ids": ids[start : start + CHUNK]})


async def refresh(session: AsyncSession, pairs: Iterable[tuple[int, str]]) -> None:
    """Recompute the roll-ups of these (commune id, period) pairs from the stored facts
    (whole-scope work only: the caller holds the exclusive scoring lock)."""
    ordered = sorted(set(pairs))
    columns = [*KEY, "province_id", *COUNTERS]
    for start in range(0, len(ordered), CHUNK):
        chunk = ordered[start : start + CHUNK]
        key = tuple_(IndicatorRollup.commune_id, IndicatorRollup.period)
        await session.execute(delete(IndicatorRollup).where(key.in_(chunk)))
        where = tuple_(ScoreIndicator.commune_id, ScoreIndicator.period).in_(chunk)
        await session.execute(insert(IndicatorRollup).from_select(columns, _grouped(where, 1)))


async def rebuild(session: AsyncSession, *, where: Any = None) -> None:
    """Recompute the roll-ups of the communes whose facts match `where` (default: all of
    them) with one INSERT … SELECT … GROUP BY, after their roll-ups were cleared (a full
    rescore or new communes; the caller holds the exclusive scoring lock)."""
    columns = [*KEY, "province_id", *COUNTERS]
    grouped = _grouped(where if where is not None else true(), 1)
    await session.execute(insert(ROLLUP).from_select(columns, grouped))


async def refresh_communes(session: AsyncSession, commune_ids: Iterable[int]) -> None:
    """Recompute every period of these communes (after villages move between communes)."""
    ids = sorted(set(commune_ids))
    scores, stored_rollups = SCORES.c, ROLLUP.c
    stmt = select(scores.commune_id, scores.period).where(scores.commune_id.in_(ids)).distinct()
    stored = select(stored_rollups.commune_id, stored_rollups.period).where(
        stored_rollups.commune_id.in_(ids)
    )
    pairs = {(c, p) for c, p in (await session.execute(stmt)).all()}
    pairs |= {(c, p) for c, p in (await session.execute(stored)).all()}
    await refresh(session, pairs)
