"""Bulk unit import: CSV or JSON, every row validated, applied set-based in one transaction.

The file is read as a stream, several times, so memory follows a chunk, not the file: pass 1
validates each row and keeps only its code, level and row number; pass 2 checks parents and
levels against that index and the database, and counts (a dry run stops there); pass 3
writes level by level (parents first), a chunk at a time.
"""

import asyncio
from collections.abc import Generator, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from pydantic import ValidationError
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.caller import Caller
from api.services import audit
from api.services.import_common import (
    FileProblem,
    ImportBody,
    RowLog,
    body_kind,
    csv_records,
    file_rejected,
    json_items,
    rejected,
    row_error,
)
from api.services.units import move_communes, move_villages, placement, unit_table
from criteria.text import fold
from models.base import utcnow
from models.imports import ImportErrorPublic, ImportReportPublic
from models.units import PARENT_LEVEL, UnitCreate

CSV_HEADER = ["code", "name", "level", "parent_code", "lat", "lon"]
LEVELS = ("province", "commune", "village")
CHUNK = 1000
_t = unit_table
_NAMES = ("name", "name_folded", "lat", "lon")
_ANCESTRY = ("parent_id", "province_id", "commune_id")
_STORED = ("id", "name", "level", "parent_id", "province_id", "lat", "lon")


class _Row(NamedTuple):
    row: int
    code: str
    name: str
    level: str
    parent_code: str | None
    lat: float | None
    lon: float | None


@dataclass
class _Index:
    """Pass 1's facts: each valid row's code → (row, level); codes of rows that failed."""

    log: RowLog = field(default_factory=RowLog)
    codes: dict[str, tuple[int, str]] = field(default_factory=dict)
    bad_codes: set[str] = field(default_factory=set)
    counts: list[int] = field(default_factory=lambda: [0, 0, 0])


async def import_units(
    session: AsyncSession, *, body: ImportBody, dry_run: bool, actor: Caller
) -> ImportReportPublic:
    """Create or update every unit of a CSV/JSON file in one transaction, or none (422)."""
    kind = body_kind(body)
    try:
        index = await asyncio.to_thread(_index, kind, body)
        await _chunks(session, kind, body, index, _check)
    except FileProblem as exc:
        raise file_rejected(dry_run, exc) from None
    if index.log.count:
        raise rejected(dry_run, index.log)
    created, updated, unchanged = index.counts
    report = ImportReportPublic(dry_run=dry_run, rows=index.log.rows, created=created,
                                updated=updated, unchanged=unchanged, errors=[])  # fmt: skip
    if dry_run:
        return report
    for level in LEVELS:
        await _chunks(session, kind, body, index, _apply, level=level)
    audit.record(session, actor=actor, action="unit.import",
                 after=report.model_dump(mode="json", exclude={"errors", "dry_run"}))  # fmt: skip
    await session.commit()
    return report


# --- reading ------------------------------------------------------------------------------


def _items(kind: str, body: ImportBody, log: RowLog) -> Generator[tuple[int, Any]]:
    """(row, item) of each record or array item, streamed; unreadable rows go to `log`."""
    if kind == "json":
        with closing(json_items(body, log)) as items:
            yield from items
        return
    with closing(csv_records(body, log)) as records:
        header = next(records, (0, []))[1]
        if header != CSV_HEADER:
            message = f"the header must be exactly {','.join(CSV_HEADER)}"
            raise FileProblem("invalid_header", message)
        for number, cells in records:
            yield number, dict(zip(CSV_HEADER, cells, strict=True))


def _rows(kind: str, body: ImportBody, log: RowLog, level: str | None) -> Generator[_Row | None]:
    """Each row (of `level`, if given) validated against `UnitCreate` (None if bad)."""
    with closing(_items(kind, body, log)) as items:
        for number, item in items:
            if level is None or not isinstance(item, dict) or item.get("level") == level:
                yield _validated(number, item, log)


def _validated(number: int, item: Any, log: RowLog) -> _Row | None:
    if not isinstance(item, dict):
        log.add(row_error(number, None, "not_an_object", "each unit must be a JSON object"))
        return None
    try:
        unit = UnitCreate.model_validate(_blank_to_none(item))
    except ValidationError as exc:
        for e in exc.errors():
            log.add(_pydantic_row_error(number, e))
        return None
    if not unit.name:
        log.add(row_error(number, "name", "required", "the name is empty"))
        return None
    return _Row(number, unit.code, unit.name, unit.level, unit.parent_code or None,
                unit.lat, unit.lon)  # fmt: skip


def _index(kind: str, body: ImportBody) -> _Index:
    """Pass 1: validate every row; codes must be unique within the file."""
    index = _Index()
    with closing(_items(kind, body, index.log)) as items:
        for number, item in items:
            row = _validated(number, item, index.log)
            code = item.get("code") if isinstance(item, dict) else None
            if row is None:
                if isinstance(code, str):
                    index.bad_codes.add(code)
            elif row.code in index.codes:
                message = f"code {row.code!r} is already on row {index.codes[row.code][0]}"
                index.log.add(row_error(number, "code", "duplicate_code", message))
            else:
                index.codes[row.code] = (number, row.level)
    return index


def _blank_to_none(item: dict[str, Any]) -> dict[str, Any]:
    blanks = {k: None for k in ("parent_code", "lat", "lon") if item.get(k) == ""}
    return {**item, **blanks} if blanks else item


def _pydantic_row_error(number: int, error: Any) -> ImportErrorPublic:
    loc = error.get("loc", ())
    column = str(loc[0]) if loc else None
    return row_error(number, column, str(error.get("type", "invalid")), str(error.get("msg", "")))


async def _chunks(
    session: AsyncSession, kind: str, body: ImportBody, index: _Index, work: Any, **kw: Any
) -> None:
    """Read the file again and hand `work` its valid rows (of `level`, if given) CHUNK at a
    time; a duplicate code's later rows are left out (pass 1 refused them)."""
    quiet = RowLog()  # pass 1 has reported every bad row already
    with closing(_rows(kind, body, quiet, kw.get("level"))) as rows:
        while chunk := await asyncio.to_thread(_take, rows, index):
            await work(session, chunk, index, **kw)


def _take(rows: Iterator[_Row | None], index: _Index) -> list[_Row]:
    chunk: list[_Row] = []
    for row in rows:
        if row is not None and index.codes.get(row.code, (row.row,))[0] == row.row:
            chunk.append(row)
        if len(chunk) == CHUNK:
            break
    return chunk


# --- checking against the database --------------------------------------------------------


async def _by_code(session: AsyncSession, codes: Sequence[str], *names: str) -> dict[str, Any]:
    """Stored units' columns by code, CHUNK codes per IN query. The codes are inlined: on
    PostgreSQL a cached generic plan, made while the table was empty, would scan it."""
    found: dict[str, Any] = {}
    for start in range(0, len(codes), CHUNK):
        part = list(codes[start : start + CHUNK])
        chunk: Any = bindparam("codes", part, expanding=True, literal_execute=True)
        stmt = select(*(_t.c[n] for n in ("code", *names))).where(_t.c.code.in_(chunk))
        found.update((r.code, r) for r in (await session.execute(stmt)).all())
    return found


async def _load_existing(session: AsyncSession, rows: Sequence[_Row]) -> dict[str, Any]:
    """Stored units named by these rows, as rows or as parents."""
    codes = sorted({r.code for r in rows} | {r.parent_code for r in rows if r.parent_code})
    return await _by_code(session, codes, *_STORED)


async def _check(session: AsyncSession, rows: list[_Row], index: _Index) -> None:
    """Pass 2: levels never change; each parent exists (in the file or stored) at the level
    above. Counts what pass 3 will create, update and leave."""
    existing = await _load_existing(session, rows)
    for row in rows:
        stored = existing.get(row.code)
        if stored is not None and stored.level != row.level:
            message = f"{row.code!r} is a {stored.level}; a unit's level never changes"
            index.log.add(row_error(row.row, "level", "level_change", message))
        problem = _parent_problem(row, index, existing)
        if problem is not None:
            index.log.add(row_error(row.row, "parent_code", *problem))
        if stored is None:
            index.counts[0] += 1
        else:
            index.counts[1 if _differs(row, stored, existing) else 2] += 1


def _parent_problem(row: _Row, index: _Index, existing: dict[str, Any]) -> tuple[str, str] | None:
    expected = PARENT_LEVEL[row.level]
    code = row.parent_code
    if expected is None:
        return ("parent_not_allowed", "a province has no parent") if code else None
    if not code:
        return "parent_required", f"a {row.level} needs a parent {expected}"
    stored = existing.get(code)
    in_file = index.codes.get(code)
    level = in_file[1] if in_file else (stored.level if stored is not None else None)
    if level is None:
        # A parent row that failed validation has its own error; do not report twice.
        if code in index.bad_codes:
            return None
        return "parent_not_found", f"no unit has code {code!r}"
    if level != expected:
        return (
            "parent_wrong_level",
            f"{code!r} is a {level}; the parent of a {row.level} is a {expected}",
        )
    return None


def _differs(row: _Row, stored: Any, existing: dict[str, Any]) -> bool:
    parent = existing.get(row.parent_code) if row.parent_code else None
    if row.parent_code and parent is None:
        return True  # the parent is new in this file, so the unit moves
    parent_id = parent.id if parent is not None else None
    now = (row.name, parent_id, row.lat, row.lon)
    return now != (stored.name, stored.parent_id, stored.lat, stored.lon)


# --- applying -----------------------------------------------------------------------------


async def _apply(session: AsyncSession, rows: list[_Row], index: _Index, *, level: str) -> None:
    """Pass 3, a chunk of one level (parents are stored by now): insert the new, update the
    changed, carry moves along."""
    existing = await _load_existing(session, rows)
    placed = {code: (r.id, r.province_id) for code, r in existing.items()}
    new = [r for r in rows if r.code not in existing]
    changed = [r for r in rows if r.code in existing and _differs(r, existing[r.code], existing)]
    await _insert(session, new, placed)
    await _update(session, changed, placed, existing)


def _columns(row: _Row, placed: dict[str, tuple[int, int | None]]) -> dict[str, Any]:
    parent_id, parent_province = placed[row.parent_code] if row.parent_code else (None, None)
    return {
        "name": row.name,
        "name_folded": fold(row.name),
        "lat": row.lat,
        "lon": row.lon,
        **placement(row.level, parent_id, parent_province),
    }


async def _insert(
    session: AsyncSession, rows: list[_Row], placed: dict[str, tuple[int, int | None]]
) -> None:
    if not rows:
        return
    now = utcnow()
    values = [
        {"code": r.code, "level": r.level, "created_at": now, **_columns(r, placed)} for r in rows
    ]
    await session.execute(insert(_t), values)


async def _update(
    session: AsyncSession,
    rows: list[_Row],
    placed: dict[str, tuple[int, int | None]],
    existing: dict[str, Any],
) -> None:
    """Executemany UPDATEs for one level; moved units also drag their subtree and scores."""
    now = utcnow()
    kept: list[dict[str, Any]] = []
    moved: list[dict[str, Any]] = []
    for row in rows:
        stored = existing[row.code]
        values = {"b_" + k: v for k, v in _columns(row, placed).items()}
        values |= {"b_id": stored.id, "b_at": now}
        placed[row.code] = (stored.id, values["b_province_id"])
        (kept if values["b_parent_id"] == stored.parent_id else moved).append(values)
    # Leaving the ancestry columns out when they stay spares SQLite's foreign-key checks.
    await _execute_update(session, kept, _NAMES)
    await _execute_update(session, moved, [*_NAMES, *_ANCESTRY])
    if moved and rows[0].level == "commune":
        await move_communes(
            session,
            [{"moved_commune_id": p["b_id"], "new_province_id": p["b_province_id"]} for p in moved],
        )
    elif moved and rows[0].level == "village":
        keys = {
            "moved_village_id": "b_id",
            "new_commune_id": "b_commune_id",
            "new_province_id": "b_province_id",
        }
        await move_villages(session, [{k: p[v] for k, v in keys.items()} for p in moved])


async def _execute_update(
    session: AsyncSession, params: list[dict[str, Any]], columns: Sequence[str]
) -> None:
    if not params:
        return
    values: dict[str, Any] = {c: bindparam("b_" + c) for c in columns}
    values["updated_at"] = bindparam("b_at")
    stmt = update(_t).where(_t.c.id == bindparam("b_id")).values(values)
    await session.execute(stmt, params)
