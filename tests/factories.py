"""Test data written straight to the database (Core inserts that keep the unit invariant)."""

from sqlalchemy import Engine, insert, select

from criteria.text import fold, nfc
from models.base import utcnow
from models.units import Unit

_unit = Unit.__table__

TREE = [
    ("37", "Ninh Bình", "province", None),
    ("13402", "Phường Kim Thanh", "commune", "37"),
    ("13393", "Phường Lê Hồ", "commune", "37"),
    ("37-13402-DONG", "Thôn Đông", "village", "13402"),
    ("37-13402-BAC", "Thôn Bắc", "village", "13402"),
    ("37-13393-01", "Thôn Ninh Lai", "village", "13393"),
    ("15", "Lào Cai", "province", None),
    ("04000", "Xã Cam Đường", "commune", "15"),
    ("15-04000-01", "Bản Pàn", "village", "04000"),
]


def make_unit(
    db: Engine,
    code: str,
    name: str,
    level: str,
    parent_code: str | None = None,
    lat: float | None = None,
    lon: float | None = None,
) -> int:
    """Insert one unit under `parent_code` (which must exist) and return its id."""
    place: dict[str, int | None] = {"parent_id": None, "province_id": None, "commune_id": None}
    with db.begin() as conn:
        if parent_code is not None:
            parent = conn.execute(
                select(_unit.c.id, _unit.c.level, _unit.c.province_id).where(
                    _unit.c.code == parent_code
                )
            ).one()
            province_id = parent.id if parent.level == "province" else parent.province_id
            commune_id = parent.id if parent.level == "commune" else None
            place = {"parent_id": parent.id, "province_id": province_id, "commune_id": commune_id}
        values = {
            "code": code,
            "name": nfc(name),
            "name_folded": fold(name),
            "level": level,
            "lat": lat,
            "lon": lon,
            "created_at": utcnow(),
            **place,
        }
        new_id: int = conn.execute(insert(_unit).values(values).returning(_unit.c.id)).scalar_one()
    return new_id


def make_tree(db: Engine) -> dict[str, int]:
    """Two provinces, three communes, four villages (see TREE); returns code → id."""
    return {code: make_unit(db, code, name, level, parent) for code, name, level, parent in TREE}
