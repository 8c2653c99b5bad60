"""Bulk unit import: parse CSV or JSON, validate every row, apply set-based in one transaction."""

import asyncio
import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from pydantic import ValidationError
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from api.caller import Caller
from api.services import audit
from api.services.import_common import (
    FileProblem,
    ImportBody,
    body_kind,
    decode_text,
    json_array,
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


class _Row(NamedTuple):
    row: int
    code: str
    name: str
    level: str
    parent_code: str | None
    lat: float | None
    lon: float | None


@dataclass
class _Checked:
    """Rows that passed validation, the errors of the others, and the data row count."""

    rows: list[_Row] = field(default_factory=list)
    errors: list[ImportErrorPublic] = field(default_factory=list)
    bad_codes: set[str] = field(default_factory=set)
    total: int = 0


async def import_units(
    session: AsyncSession, *, body: ImportBody, dry_run: bool, actor: Caller
) -> ImportReportPublic:
    """Create or update every unit of a CSV/JSON file in one transaction, or none (422)."""
    kind = body_kind(body)
    try:
        checked = await asyncio.to_thread(_read_and_validate, kind, body.data)
    except FileProblem as exc:
        raise rejected(dry_run, 0, [exc.error]) from None
    existing = await _load_existing(session, checked.rows)
    checked.errors += _check_against(checked, existing)
    if checked.errors:
        raise rejected(dry_run, checked.total, checked.errors)
    new, changed, unchanged = _classify(checked.rows, existing)
    report = ImportReportPublic(
        dry_run=dry_run,
        rows=checked.total,
        created=len(new),
        updated=len(changed),
        unchanged=unchanged,
        errors=[],
    )
    if dry_run:
        return report
    await _apply(session, new=new, changed=changed, existing=existing)
    audit.record(session, actor=actor, action="unit.import",
                 after=report.model_dump(mode="json", exclude={"errors", "dry_run"}))  # fmt: skip
    await session.commit()
    return report


# --- reading ------------------------------------------------------------------------------


def _read_and_validate(kind: str, data: bytes) -> _Checked:
    text = decode_text(data)
    checked = _Checked()
    items = _csv_items(text, checked) if kind == "csv" else _json_items(text, checked)
    _validate(items, checked)
    return checked


def _csv_items(text: str, checked: _Checked) -> list[tuple[int, Any]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [cell.strip() for cell in next(reader, [])]
    if header != CSV_HEADER:
        raise FileProblem("invalid_header", f"the header must be exactly {','.join(CSV_HEADER)}")
    items: list[tuple[int, Any]] = []
    for number, cells in enumerate(reader, start=1):
        cells = [cell.strip() for cell in cells]
        if not any(cells):
            continue
        checked.total += 1
        if len(cells) != len(CSV_HEADER):
            message = f"expected {len(CSV_HEADER)} cells, found {len(cells)}"
            checked.errors.append(row_error(number, None, "wrong_cell_count", message))
            continue
        items.append((number, dict(zip(CSV_HEADER, cells, strict=True))))
    return items


def _json_items(text: str, checked: _Checked) -> list[tuple[int, Any]]:
    document = json_array(text, "units")
    checked.total = len(document)
    return list(enumerate(document, start=1))


def _validate(items: list[tuple[int, Any]], checked: _Checked) -> None:
    """Each item against `UnitCreate`; codes must be unique within the file."""
    seen: dict[str, int] = {}
    for number, item in items:
        if not isinstance(item, dict):
            message = "each unit must be a JSON object"
            checked.errors.append(row_error(number, None, "not_an_object", message))
            continue
        try:
            unit = UnitCreate.model_validate(_blank_to_none(item))
        except ValidationError as exc:
            checked.errors += [_pydanticrow_error(number, e) for e in exc.errors()]
            if isinstance(item.get("code"), str):
                checked.bad_codes.add(item["code"])
            continue
        if unit.code in seen:
            message = f"code {unit.code!r} is already on row {seen[unit.code]}"
            checked.errors.append(row_error(number, "code", "duplicate_code", message))
            continue
        seen[unit.code] = number
        if not unit.name:
            checked.errors.append(row_error(number, "name", "required", "the name is empty"))
            checked.bad_codes.add(unit.code)
            continue
        parent = unit.parent_code or None
        checked.rows.append(
            _Row(number, unit.code, unit.name, unit.level, parent, unit.lat, unit.lon)
        )


def _blank_to_none(item: dict[str, Any]) -> dict[str, Any]:
    blanks = {k: None for k in ("parent_code", "lat", "lon") if item.get(k) == ""}
    return {**item, **blanks} if blanks else item


def _pydanticrow_error(number: int, error: Any) -> ImportErrorPublic:
    loc = error.get("loc", ())
    column = str(loc[0]) if loc else None
    return row_error(number, column, str(error.get("type", "invalid")), str(error.get("msg", "")))


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
    """Stored units named by the file, as rows or as parents."""
    codes = sorted({r.code for r in rows} | {r.parent_code for r in rows if r.parent_code})
    names = ("id", "name", "level", "parent_id", "province_id", "lat", "lon")
    return await _by_code(session, codes, *names)


def _check_against(checked: _Checked, existing: dict[str, Any]) -> list[ImportErrorPublic]:
    """Levels never change; each parent exists (in the file or stored) at the level above."""
    in_file = {r.code: r.level for r in checked.rows}
    errors: list[ImportErrorPublic] = []
    for row in checked.rows:
        stored = existing.get(row.code)
        if stored is not None and stored.level != row.level:
            message = f"{row.code!r} is a {stored.level}; a unit's level never changes"
            errors.append(row_error(row.row, "level", "level_change", message))
        problem = _parent_problem(row, in_file, existing, checked.bad_codes)
        if problem is not None:
            errors.append(row_error(row.row, "parent_code", *problem))
    return errors


def _parent_problem(
    row: _Row, in_file: dict[str, str], existing: dict[str, Any], bad_codes: set[str]
) -> tuple[str, str] | None:
    expected = PARENT_LEVEL[row.level]
    code = row.parent_code
    if expected is None:
        return ("parent_not_allowed", "a province has no parent") if code else None
    if not code:
        return "parent_required", f"a {row.level} needs a parent {expected}"
    stored = existing.get(code)
    level = in_file.get(code) or (stored.level if stored is not None else None)
    if level is None:
        # A parent row that failed validation has its own error; do not report twice.
        return None if code in bad_codes else ("parent_not_found", f"no unit has code {code!r}")
    if level != expected:
        return (
            "parent_wrong_level",
            f"{code!r} is a {level}; the parent of a {row.level} is a {expected}",
        )
    return None


def _classify(rows: Sequence[_Row], existing: dict[str, Any]) -> tuple[list[_Row], list[_Row], int]:
    """Rows to create, rows whose stored unit differs, and how many are already as sent."""
    new: list[_Row] = []
    changed: list[_Row] = []
    for row in rows:
        stored = existing.get(row.code)
        if stored is None:
            new.append(row)
        elif _differs(row, stored, existing):
            changed.append(row)
    return new, changed, len(rows) - len(new) - len(changed)


def _differs(row: _Row, stored: Any, existing: dict[str, Any]) -> bool:
    parent = existing.get(row.parent_code) if row.parent_code else None
    if row.parent_code and parent is None:
        return True  # the parent is new in this file, so the unit moves
    parent_id = parent.id if parent is not None else None
    now = (row.name, parent_id, row.lat, row.lon)
    return now != (stored.name, stored.parent_id, stored.lat, stored.lon)


# --- applying -----------------------------------------------------------------------------


async def _apply(
    session: AsyncSession, *, new: list[_Row], changed: list[_Row], existing: dict[str, Any]
) -> None:
    """Level by level (parents first): insert the new, update the changed, carry moves along."""
    placed = {code: (r.id, r.province_id) for code, r in existing.items()}
    for level in LEVELS:
        created = [r for r in new if r.level == level]
        await _insert(session, created, placed)
        if created and level != "village":
            found = await _by_code(session, [r.code for r in created], "id", "province_id")
            placed.update((code, (r.id, r.province_id)) for code, r in found.items())
        await _update(session, [r for r in changed if r.level == level], placed, existing)


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
            session, [{"b_cid": p["b_id"], "b_pid": p["b_province_id"]} for p in moved]
        )
    elif moved and rows[0].level == "village":
        keys = {"b_vid": "b_id", "b_cid": "b_commune_id", "b_pid": "b_province_id"}
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
