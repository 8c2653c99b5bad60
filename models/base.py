"""Shared model plumbing: the constraint naming convention, UTC time, NFC text."""

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator
from sqlalchemy import DateTime, MetaData
from sqlmodel import Field, SQLModel

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


def utcnow() -> datetime:
    """Timezone-aware now in UTC."""
    return datetime.now(UTC)


def created_at_field() -> datetime:
    return Field(default_factory=utcnow, sa_type=DateTime(timezone=True), nullable=False)  # type: ignore[no-any-return]


def optional_time_field() -> datetime | None:
    return Field(default=None, sa_type=DateTime(timezone=True), nullable=True)  # type: ignore[no-any-return]
