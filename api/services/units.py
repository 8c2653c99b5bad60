"""Units: look-ups, search, ancestry paths, create and change."""

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Table, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from api.core.caller import Caller
from api.core.pagination import Page, decode_cursor, page_of
from api.core.problems import Conflict, FieldError, NotFound, Unprocessable
from api.services import audit, rollups
from criteria.text import fold, nfc
from models.base import metadata, utcnow
from models.scores import Score, ScoreIndicator
from models.submissions import Submission
from models.units import PARENT_LEVEL, Unit, UnitCreate, UnitPublic, UnitRef, UnitUpdate

unit_table: Table = metadata.tables[Unit.__tablename__]
_score: Table = metadata.tables[Score.__tablename__]
_score_indicator: Table = metadata.tables[ScoreIndicator.__tablename__]
_submission: Table = metadata.tables[Submission.__tablename__]
_t = unit_table
_PUBLIC_COLUMNS = (
    _t.c.id,
    _t.c.code,
    _t.c.name,
    _t.c.level,
    _t.c.province_id,
    _t.c.commune_id,
    _t.c.lat,
    _t.c.lon,
)


async def find_by_code(session: AsyncSession, *, code: str) -> Unit | None:
    """The unit with this code, or None."""
    result = await session.execute(select(Unit).where(col(Unit.code) == code))
    return result.scalar_one_or_none()


def as_unit(unit: Unit | None, code: str) -> Unit:
    """`unit`, or a 404 naming `code` when there is none."""
    if unit is None:
        raise NotFound(f"No unit has code {code!r}.")
    return unit


async def get_by_code(session: AsyncSession, *, code: str) -> Unit:
    """The unit with this code, or 404."""
    return as_unit(await find_by_code(session, code=code), code)


def as_village(unit: Unit | None, code: str) -> Unit:
    """`unit` when it is a village, else a 404 naming `code` (a commune is not a village)."""
    if unit is None or unit.level != "village":
        raise NotFound(f"No village has code {code!r}.")
    return unit


async def get_village(session: AsyncSession, *, code: str) -> Unit:
    """The village with this code, or 404."""
    return as_village(await find_by_code(session, code=code), code)


async def ancestors(session: AsyncSession, unit: Unit) -> list[Unit]:
    """The unit's ancestors, province first (at most two rows, one query)."""
    ids = [i for i in (unit.province_id, unit.commune_id) if i is not None and i != unit.id]
    if not ids:
        return []
    rows = (await session.execute(select(Unit).where(col(Unit.id).in_(ids)))).scalars().all()
    order = {"province": 0, "commune": 1}
    return sorted(rows, key=lambda u: order.get(u.level, 2))


async def to_public(session: AsyncSession, unit: Unit) -> UnitPublic:
    """The API shape of a unit, with its `path` of ancestors."""
    path = await ancestors(session, unit)
    parent = path[-1].code if path else None
    return UnitPublic(
        code=unit.code,
        name=unit.name,
        level=unit.level,
        parent_code=parent,
        lat=unit.lat,
        lon=unit.lon,
        path=[UnitRef(code=u.code, name=u.name, level=u.level) for u in path],
    )


# --- listing and search ---------------------------------------------------------------


async def list_units(
    session: AsyncSession,
    *,
    level: str | None,
    parent: str | None,
    q: str | None,
    limit: int,
    cursor: str | None,
) -> Page[UnitPublic]:
    """A page of units ordered by code: filtered by level, direct parent and search text."""
    stmt = select(*_PUBLIC_COLUMNS).order_by(_t.c.code).limit(limit + 1)
    after = _cursor_code(cursor)
    if after is not None:
        stmt = stmt.where(_t.c.code > after)
    if level is not None:
        stmt = stmt.where(_t.c.level == level)
    if parent is not None:
        parent_unit = await get_by_code(session, code=parent)
        stmt = stmt.where(_t.c.parent_id == parent_unit.id)
    search = _search(q)
    if search is not None:
        stmt = stmt.where(search)
    page = page_of((await session.execute(stmt)).all(), limit, lambda row: {"code": row.code})
    items = await _public_rows(session, page.items)
    return Page[UnitPublic](items=items, next_cursor=page.next_cursor)


def _cursor_code(cursor: str | None) -> str | None:
    key = decode_cursor(cursor, fields={"code": str})
    return None if key is None else str(key["code"])


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _search(q: str | None) -> ColumnElement[bool] | None:
    """Name contains the folded text, or code starts with it (case-insensitive); None if blank."""
    text = nfc(q or "")
    if not text:
        return None
    in_name = _t.c.name_folded.like(f"%{_escape_like(fold(text))}%", escape="\\")
    code_prefix = func.lower(_t.c.code).like(f"{_escape_like(text.lower())}%", escape="\\")
    return or_(in_name, code_prefix)


async def _public_rows(session: AsyncSession, rows: Sequence[Any]) -> list[UnitPublic]:
    """API shapes for a page of rows; all their ancestors come in one query."""
    ids = {i for r in rows for i in (r.province_id, r.commune_id) if i is not None}
    refs: dict[int, UnitRef] = {}
    if ids:
        stmt = select(_t.c.id, _t.c.code, _t.c.name, _t.c.level).where(_t.c.id.in_(ids))
        for ref in (await session.execute(stmt)).all():
            refs[ref.id] = UnitRef(code=ref.code, name=ref.name, level=ref.level)
    return [_public_row(r, refs) for r in rows]


def _public_row(row: Any, refs: dict[int, UnitRef]) -> UnitPublic:
    ids = (row.province_id, row.commune_id)
    path = [refs[i] for i in ids if i is not None and i != row.id]
    return UnitPublic(
        code=row.code,
        name=row.name,
        level=row.level,
        parent_code=path[-1].code if path else None,
        lat=row.lat,
        lon=row.lon,
        path=path,
    )


# --- create and change ------------------------------------------------------------------


def placement(level: str, parent_id: int | None, parent_province_id: int | None) -> dict[str, Any]:
    """The denormalised ancestry columns of a unit of `level` under the given parent."""
    if level == "province":
        return {"parent_id": None, "province_id": None, "commune_id": None}
    if level == "commune":
        return {"parent_id": parent_id, "province_id": parent_id, "commune_id": None}
    return {"parent_id": parent_id, "province_id": parent_province_id, "commune_id": parent_id}


def checked_name(name: str | None) -> str:
    """The NFC name, or a 422 naming `name` when it is null or blank."""
    cleaned = nfc(name or "")
    if not cleaned:
        raise Unprocessable(
            "A unit needs a name.", errors=[FieldError("name", "required", "the name is empty")]
        )
    return cleaned


async def create(session: AsyncSession, *, body: UnitCreate, actor: Caller) -> UnitPublic:
    """Add a unit under its parent; 409 if the code exists, 422 if the parent does not fit."""
    if await find_by_code(session, code=body.code) is not None:
        raise Conflict(f"A unit with code {body.code!r} already exists.")
    name = checked_name(body.name)
    parent = await _parent_for(session, level=body.level, parent_code=body.parent_code)
    place = placement(body.level, *_parent_ids(parent))
    unit = Unit(
        code=body.code,
        name=name,
        name_folded=fold(name),
        level=body.level,
        lat=body.lat,
        lon=body.lon,
        **place,
    )
    session.add(unit)
    await session.flush()
    public = await to_public(session, unit)
    audit.record(session, actor=actor, action="unit.create", unit=unit,
                 after=_audit_state(public))  # fmt: skip
    await session.commit()
    return public


def _audit_state(public: UnitPublic) -> dict[str, Any]:
    return public.model_dump(mode="json", exclude={"path"})


async def update_unit(
    session: AsyncSession, *, unit: Unit, changes: UnitUpdate, actor: Caller
) -> UnitPublic:
    """Apply the fields sent: name (re-folded), lat/lon, parent_code (a move; level stays)."""
    fields = changes.model_dump(exclude_unset=True)
    before = _audit_state(await to_public(session, unit))
    if "name" in fields:
        unit.name = checked_name(fields["name"])
        unit.name_folded = fold(unit.name)
    for key in ("lat", "lon"):
        if key in fields:
            setattr(unit, key, fields[key])
    if "parent_code" in fields:
        await _move(session, unit=unit, parent_code=fields["parent_code"])
    unit.updated_at = utcnow()
    session.add(unit)
    await session.flush()
    public = await to_public(session, unit)
    audit.record(session, actor=actor, action="unit.update", unit=unit, before=before,
                 after=_audit_state(public))  # fmt: skip
    await session.commit()
    return public


def _parent_ids(parent: Unit | None) -> tuple[int | None, int | None]:
    return (parent.id, parent.province_id) if parent is not None else (None, None)


def parent_error(code: str, detail: str) -> Unprocessable:
    """The 422 for a parent that is missing, unknown, or of the wrong level."""
    return Unprocessable(
        f"parent_code: {detail}.", errors=[FieldError("parent_code", code, detail)]
    )


async def _parent_for(session: AsyncSession, *, level: str, parent_code: str | None) -> Unit | None:
    expected = PARENT_LEVEL[level]
    if expected is None:
        if parent_code:
            raise parent_error("parent_not_allowed", "a province has no parent")
        return None
    if not parent_code:
        raise parent_error("parent_required", f"a {level} needs a parent {expected}")
    parent = await find_by_code(session, code=parent_code)
    if parent is None:
        raise parent_error("parent_not_found", f"no unit has code {parent_code!r}")
    if parent.level != expected:
        detail = f"{parent_code!r} is a {parent.level}; the parent of a {level} is a {expected}"
        raise parent_error("parent_wrong_level", detail)
    return parent


async def _move(session: AsyncSession, *, unit: Unit, parent_code: str | None) -> None:
    """Put the unit under another parent, carrying its subtree's and scores' columns along."""
    parent = await _parent_for(session, level=unit.level, parent_code=parent_code)
    place = placement(unit.level, *_parent_ids(parent))
    if place["parent_id"] == unit.parent_id:
        return
    for key, value in place.items():
        setattr(unit, key, value)
    assert unit.id is not None
    if unit.level == "commune":
        await move_communes(
            session, [{"moved_commune_id": unit.id, "new_province_id": place["province_id"]}]
        )
    elif unit.level == "village":
        moved = {
            "moved_village_id": unit.id,
            "new_commune_id": place["commune_id"],
            "new_province_id": place["province_id"],
        }
        await move_villages(session, [moved])


async def move_communes(session: AsyncSession, moves: Iterable[dict[str, Any]]) -> None:
    """Communes `moved_commune_id` now lie in province `new_province_id`: fix their
    villages' and scores' column."""
    params = list(moves)
    if not params:
        return
    for table in (unit_table, _score, _score_indicator, rollups.ROLLUP):
        stmt = (
            update(table)
            .where(table.c.commune_id == bindparam("moved_commune_id"))
            .values(province_id=bindparam("new_province_id"))
        )
        await session.execute(stmt, params)


async def move_villages(session: AsyncSession, moves: Iterable[dict[str, Any]]) -> None:
    """Villages `moved_village_id` now lie in commune `new_commune_id` of province
    `new_province_id`: fix their scores."""
    params = list(moves)
    if not params:
        return
    new_place: dict[str, Any] = {
        "commune_id": bindparam("new_commune_id"),
        "province_id": bindparam("new_province_id"),
    }
    moved = [p["moved_village_id"] for p in params]
    old = select(_score.c.commune_id).where(_score.c.village_id.in_(moved)).distinct()
    touched = set((await session.execute(old)).scalars()) | {p["new_commune_id"] for p in params}
    by_village = update(_score).where(_score.c.village_id == bindparam("moved_village_id"))
    await session.execute(by_village.values(new_place), params)
    submissions = select(_submission.c.id).where(
        _submission.c.village_id == bindparam("moved_village_id")
    )
    facts = update(_score_indicator).where(_score_indicator.c.submission_id.in_(submissions))
    await session.execute(facts.values(new_place), params)
    await rollups.refresh_communes(session, touched)
