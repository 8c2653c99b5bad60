"""A page of the ranking of the villages under a unit: one indexed query, JSON bytes out.

The page is read with the ranking index (`ix_score_province_rank`, `ix_score_commune_rank`):
`(unit, period, score DESC, village_code)`, so a page of 50 scans 51 index entries from the
cursor and joins each to its village and commune. Without `period` the latest one with a
visible score under the unit is found in the same statement.
"""

from decimal import Decimal
from functools import lru_cache
from typing import Any, Literal

import orjson
from sqlalchemy import ColumnElement, Select, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from api.core.caller import Caller
from api.core.pagination import decode_cursor, encode_cursor
from api.infra.reads import Reads
from api.services.rankings import latest_period
from criteria.periods import Period
from criteria.rounding import json_number
from models.base import table_of
from models.scores import Score
from models.units import Unit

Sort = Literal["-score", "score", "village_code"]
ScoreStatus = Literal["met", "not_met", "incomplete"]
SCORE = table_of(Score)
UNIT = table_of(Unit)
_CURSOR = {"score": Decimal, "village_code": str, "rank": int, "period": str}
_UNDER = {"province": SCORE.c.province_id, "commune": SCORE.c.commune_id}


def _cursor_valid(key: dict[str, Any]) -> bool:
    """A score as stored (0-100, NUMERIC(4, 1)) and a rank offset of at least 0."""
    return bool(0 <= key["score"] <= 100 and key["rank"] >= 0)


def _after(sort: Sort) -> ColumnElement[bool]:
    """Rows after the cursor's (`:after_score`, `:after_code`) in `sort` order."""
    code = bindparam("after_code", type_=SCORE.c.village_code.type)
    s = bindparam("after_score", type_=SCORE.c.score.type)
    if sort == "village_code":
        return SCORE.c.village_code > code
    if sort == "-score":  # the redundant `<=` bound lets the index range-scan from the cursor
        return (SCORE.c.score <= s) & ((SCORE.c.score < s) | (SCORE.c.village_code > code))
    return (SCORE.c.score >= s) & ((SCORE.c.score > s) | (SCORE.c.village_code > code))


def _order(sort: Sort) -> list[Any]:
    if sort == "village_code":
        return [SCORE.c.village_code]
    first = SCORE.c.score.desc() if sort == "-score" else SCORE.c.score.asc()
    return [first, SCORE.c.village_code]


def _visible(stmt: Select[Any], level: str, approved_only: bool) -> Select[Any]:
    stmt = stmt.where(_UNDER.get(level, SCORE.c.village_id) == bindparam("unit_id"))
    return stmt.where(SCORE.c.submission_status == "approved") if approved_only else stmt


@lru_cache(maxsize=256)
def ranking_select(
    level: str, sort: Sort, *, approved_only: bool, status: bool, after: bool, period: bool
) -> Select[Any]:
    """The page's statement for one shape of request (built once, compiled once)."""
    village, commune = aliased(UNIT), aliased(UNIT)
    wanted: Any = bindparam("period")
    if not period:
        latest = _visible(select(func.max(SCORE.c.period)), level, approved_only)
        wanted = latest.scalar_subquery()
    cols = (SCORE.c.village_code, village.c.name, commune.c.code, SCORE.c.score, SCORE.c.status)
    stmt: Select[Any] = (
        select(*cols, SCORE.c.period)
        .join(village, village.c.id == SCORE.c.village_id)
        .join(commune, commune.c.id == SCORE.c.commune_id)
        .where(SCORE.c.period == wanted)
    )
    stmt = _visible(stmt, level, approved_only)
    if status:
        stmt = stmt.where(SCORE.c.status == bindparam("status"))
    if after:
        stmt = stmt.where(_after(sort))
    return stmt.order_by(*_order(sort)).limit(bindparam("limit"))


def _item(rank: int, row: Any) -> dict[str, Any]:
    code, name, commune_code, score, status, period = row
    return {
        "rank": rank,
        "village_code": code,
        "village_name": name,
        "commune_code": commune_code,
        "period": period,
        "score": json_number(score),
        "status": status,
    }


def _next_cursor(rank: int, row: Any) -> str:
    code, score, period = row[0], row[3], row[5]
    return encode_cursor(
        {"score": str(score), "village_code": code, "rank": rank, "period": period}
    )


async def ranking(
    reads: Reads,
    session: AsyncSession,
    *,
    unit: Unit,
    period: Period | None,
    status: ScoreStatus | None,
    sort: Sort,
    caller: Caller,
    limit: int,
    cursor: str | None,
) -> bytes:
    """Villages under `unit` with a score for the period, ranked (`rank` is 1-based), as
    the JSON of a `Page[RankingItem]`."""
    key = decode_cursor(cursor, fields=_CURSOR, valid=_cursor_valid)
    wanted = str(period) if period else (key["period"] if key else None)
    stmt = ranking_select(
        unit.level,
        sort,
        approved_only=caller.approved_only,
        status=status is not None,
        after=key is not None,
        period=wanted is not None,
    )
    params = {"unit_id": unit.id, "period": wanted, "status": status, "limit": limit + 1}
    if key:
        params |= {"after_code": key["village_code"], "after_score": key["score"]}
    rows = await reads.all(stmt, params)
    if not rows and wanted is None:  # 404 when nothing under the unit has a score
        await latest_period(session, unit=unit, caller=caller)
    offset = key["rank"] if key else 0
    items = [_item(offset + i + 1, row) for i, row in enumerate(rows[:limit])]
    more = len(rows) > limit
    next_cursor = _next_cursor(offset + limit, rows[limit - 1]) if more else None
    return orjson.dumps({"items": items, "next_cursor": next_cursor})
