"""Criteria-set versions: the document as data, with its lifecycle status."""

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Column, Date, Index, Integer, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import created_at_field, optional_time_field


class CriteriaSetVersion(SQLModel, table=True):
    """One version of a criteria set; immutable once published."""

    __tablename__ = "criteria_set_version"
    __table_args__ = (
        UniqueConstraint("code", "version"),
        CheckConstraint("status IN ('draft', 'published', 'retired')", name="status"),
        CheckConstraint("period_type IN ('quarter', 'year')", name="period_type"),
        Index("ix_criteria_set_version_status_scope", "status", "scope"),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(sa_column=Column(String(64), nullable=False))
    version: int = Field(sa_column=Column(Integer, nullable=False))
    status: str = Field(sa_column=Column(String(10), nullable=False))
    scope: str = Field(sa_column=Column(String(16), nullable=False))
    period_type: str = Field(sa_column=Column(String(8), nullable=False))
    effective_from: str = Field(sa_column=Column(String(8), nullable=False))
    effective_start: date = Field(sa_column=Column(Date, nullable=False))
    title_vi: str = Field(sa_column=Column(String(300), nullable=False))
    title_en: str = Field(sa_column=Column(String(300), nullable=False))
    document: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = created_at_field()
    published_at: datetime | None = optional_time_field()
    retired_at: datetime | None = optional_time_field()


class VersionSummary(SQLModel):
    version: int
    status: str
    effective_from: str
    published_at: datetime | None


class CriteriaSetPublic(SQLModel):
    """A criteria set with all its versions."""

    code: str
    title: dict[str, str]
    scope: str
    versions: list[VersionSummary]


class CriteriaSetVersionPublic(SQLModel):
    """One version: the whole document plus its lifecycle fields."""

    code: str
    version: int
    status: str
    published_at: datetime | None
    retired_at: datetime | None
    created_at: datetime
    document: dict[str, Any]
