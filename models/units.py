"""Administrative units: province → commune → village, with search and subtree columns."""

import re
from datetime import datetime
from typing import Literal

from pydantic import ValidationInfo, field_validator
from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, Integer, String
from sqlmodel import Field, SQLModel

from models.base import NfcStr, created_at_field, optional_time_field

Level = Literal["province", "commune", "village"]
CODE_PATTERNS: dict[str, str] = {
    "province": r"^[0-9]{2}$",
    "commune": r"^[0-9]{5}$",
    "village": r"^[0-9A-Za-z._-]{1,32}$",
}
CODE_HINTS: dict[str, str] = {
    "province": "2 digits",
    "commune": "5 digits",
    "village": "1-32 of 0-9 A-Z a-z . _ -",
}
PARENT_LEVEL: dict[str, str | None] = {
    "province": None,
    "commune": "province",
    "village": "commune",
}


class Unit(SQLModel, table=True):
    """One unit. `province_id`/`commune_id` denormalise the ancestry for subtree reads."""

    __tablename__ = "unit"
    __table_args__ = (
        CheckConstraint("level IN ('province', 'commune', 'village')", name="level"),
        Index("ix_unit_parent_id_code", "parent_id", "code"),
        Index("ix_unit_province_id_level", "province_id", "level"),
        Index("ix_unit_commune_id_level", "commune_id", "level"),
        Index("ix_unit_level_code", "level", "code"),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(sa_column=Column(String(32), nullable=False, unique=True))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    name_folded: str = Field(sa_column=Column(String(200), nullable=False, index=True))
    level: str = Field(sa_column=Column(String(10), nullable=False))
    parent_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("unit.id"), nullable=True)
    )
    province_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("unit.id"), nullable=True)
    )
    commune_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("unit.id"), nullable=True)
    )
    lat: float | None = None
    lon: float | None = None
    created_at: datetime = created_at_field()
    updated_at: datetime | None = optional_time_field()


class UnitCreate(SQLModel):
    """A new unit, as an administrator sends it."""

    level: Level
    code: str = Field(min_length=1, max_length=32)
    name: NfcStr = Field(min_length=1, max_length=200)
    parent_code: str | None = Field(default=None, max_length=32)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)

    @field_validator("code")
    @classmethod
    def _code_fits_level(cls, code: str, info: ValidationInfo) -> str:
        level = info.data.get("level")
        if level and not re.fullmatch(CODE_PATTERNS[level], code):
            raise ValueError(f"{code!r} is not a valid {level} code ({CODE_HINTS[level]})")
        return code


class UnitUpdate(SQLModel):
    """A partial change; only the fields sent are applied."""

    name: NfcStr | None = Field(default=None, min_length=1, max_length=200)
    parent_code: str | None = Field(default=None, max_length=32)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)


class UnitRef(SQLModel):
    code: str
    name: str
    level: str


class UnitPublic(SQLModel):
    """A unit with its ancestors, province first."""

    code: str
    name: str
    level: str
    parent_code: str | None
    lat: float | None
    lon: float | None
    path: list[UnitRef] = []
