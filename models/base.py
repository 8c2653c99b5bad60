"""Shared model plumbing: the constraint naming convention, UTC time, NFC text."""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, PlainSerializer
from sqlalchemy import DateTime, Dialect, MetaData, Table, TypeDecorator
from sqlmodel import Field, SQLModel

from criteria.rounding import json_number
from criteria.text import nfc

# Named constraints: SQLite batch migrations cannot drop unnamed ones.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata: MetaData = SQLModel.metadata

NfcStr = Annotated[str, AfterValidator(nfc)]
"""User text: stored in Unicode NFC, surrounding whitespace removed."""


JsonNumber = Annotated[
    Decimal, PlainSerializer(json_number, return_type=int | float, when_used="json")
]
"""A Decimal that leaves the API as a JSON number, not a string."""


def table_of(model: type[SQLModel]) -> Table:
    """The Core table of a SQLModel table class, for set-based statements."""
    # SQLModel sets __table__ on table classes at runtime but does not declare it.
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table


def utcnow() -> datetime:
    """Timezone-aware now in UTC."""
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on every backend (SQLite keeps no zone: assume UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime; use models.base.utcnow()")
        # Stored and compared as UTC: SQLite keeps no zone, so other offsets would compare wrong.
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            # TypeDecorator result processing receives Any from the driver.
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value  # type: ignore[no-any-return]


def created_at_field() -> datetime:
    # sqlmodel.Field returns Any; as a class attribute default it stands for the value.
    return Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)  # type: ignore[no-any-return]


def optional_time_field() -> datetime | None:
    return Field(default=None, sa_type=UtcDateTime, nullable=True)  # type: ignore[no-any-return]


EXPRESSION_INDEXES = frozenset({"ix_score_province_rank", "ix_score_commune_rank"})


def compared_by_autogenerate(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Alembic `include_object`: expression indexes are made by hand in migrations and
    cannot be compared (SQLite does not reflect `DESC`)."""
    return not (type_ == "index" and name in EXPRESSION_INDEXES)
