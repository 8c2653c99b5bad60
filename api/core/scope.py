"""Which rows lie under a unit, and which scores a caller may see, as SQL conditions."""

from typing import Any

from sqlalchemy import ColumnElement, true
from sqlmodel import col

from api.core.caller import Caller
from models.scores import Score
from models.units import Unit


def under(unit: Unit, *, province_id: Any, commune_id: Any, village_id: Any) -> ColumnElement[bool]:
    """Rows whose columns place them in `unit`'s subtree (the unit itself or below)."""
    if unit.level == "province":
        return col(province_id) == unit.id
    if unit.level == "commune":
        return col(commune_id) == unit.id
    return col(village_id) == unit.id


def visible_scores(caller: Caller) -> ColumnElement[bool]:
    """The scores `caller` may see: integrators see those of approved submissions only."""
    return col(Score.submission_status) == "approved" if caller.approved_only else true()
