"""Units: look-ups, search, ancestry paths, create and change."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.problems import NotFound
from models.units import Unit, UnitPublic, UnitRef


async def find_by_code(session: AsyncSession, *, code: str) -> Unit | None:
    """The unit with this code, or None."""
    result = await session.execute(select(Unit).where(Unit.code == code))
    return result.scalar_one_or_none()


async def get_by_code(session: AsyncSession, *, code: str) -> Unit:
    """The unit with this code, or 404."""
    unit = await find_by_code(session, code=code)
    if unit is None:
        raise NotFound(f"No unit has code {code!r}.")
    return unit


async def get_village(session: AsyncSession, *, code: str) -> Unit:
    """The village with this code, or 404."""
    unit = await find_by_code(session, code=code)
    if unit is None or unit.level != "village":
        raise NotFound(f"No village has code {code!r}.")
    return unit


async def ancestors(session: AsyncSession, unit: Unit) -> list[Unit]:
    """The unit's ancestors, province first (at most two rows, one query)."""
    ids = [i for i in (unit.province_id, unit.commune_id) if i is not None and i != unit.id]
    if not ids:
        return []
    rows = (await session.execute(select(Unit).where(Unit.id.in_(ids)))).scalars().all()  # type: ignore[union-attr]
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
