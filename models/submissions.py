"""Submissions of indicator values per (village, period), with every revision kept."""

from datetime import datetime
from typing import Annotated, Any

from pydantic import AnyHttpUrl, StringConstraints, UrlConstraints
from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from models.base import NfcStr, created_at_field, optional_time_field


class Submission(SQLModel, table=True):
    """The current state of one village's report for one period."""

    __tablename__ = "submission"
    __table_args__ = (
        UniqueConstraint("village_id", "period"),
        CheckConstraint("status IN ('submitted', 'approved', 'returned')", name="status"),
        Index("ix_submission_period_status", "period", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    village_id: int = Field(
        sa_column=Column(Integer, ForeignKey("unit.id", ondelete="CASCADE"), nullable=False)
    )
    period: str = Field(sa_column=Column(String(6), nullable=False))
    revision: int = Field(sa_column=Column(Integer, nullable=False))
    status: str = Field(sa_column=Column(String(10), nullable=False))
    values: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    evidence: list[str] = Field(sa_column=Column(JSON, nullable=False))
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    submitted_by: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    submitted_at: datetime = created_at_field()
    reviewed_by: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    reviewed_at: datetime | None = optional_time_field()
    review_comment: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class SubmissionRevision(SQLModel, table=True):
    """A past or current revision of a submission; never changed once written."""

    __tablename__ = "submission_revision"
    __table_args__ = (UniqueConstraint("submission_id", "revision"),)

    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(
        sa_column=Column(Integer, ForeignKey("submission.id", ondelete="CASCADE"), nullable=False)
    )
    revision: int = Field(sa_column=Column(Integer, nullable=False))
    values: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    evidence: list[str] = Field(sa_column=Column(JSON, nullable=False))
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    submitted_by: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    submitted_at: datetime = created_at_field()


MAX_VALUES = 500
MeasureKey = Annotated[str, StringConstraints(max_length=64)]


class SubmissionIn(SQLModel):
    """What a village head sends: the whole `values` map replaces the previous one."""

    values: dict[MeasureKey, Any] = Field(
        max_length=MAX_VALUES,
        description="Measure code → value (at most 500; numbers within ±10^9).",
    )
    evidence: list[Annotated[AnyHttpUrl, UrlConstraints(max_length=2000)]] = Field(
        default_factory=list, max_length=50, description="At most 50 links."
    )
    note: NfcStr | None = Field(
        default=None, max_length=4000, description="At most 4000 characters."
    )


class SubmissionPublic(SQLModel):
    """A submission as the API returns it."""

    village_code: str
    period: str
    values: dict[str, Any]
    evidence: list[str]
    note: str | None
    status: str
    revision: int
    submitted_by: str | None
    submitted_at: datetime
    reviewed_by: str | None
    review_comment: str | None


class RevisionPublic(SQLModel):
    """One kept revision."""

    revision: int
    values: dict[str, Any]
    evidence: list[str]
    note: str | None
    submitted_by: str | None
    submitted_at: datetime
