"""Stored scores per (village, period) and the per-indicator facts that summaries aggregate."""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    text,
)
from sqlmodel import Field, SQLModel

from models.base import JsonNumber, created_at_field


class Score(SQLModel, table=True):
    """The score of a village's current submission for a period, and what produced it."""

    __tablename__ = "score"
    __table_args__ = (
        CheckConstraint("status IN ('met', 'not_met', 'incomplete')", name="status"),
        # Rankings: the first page is an index scan that stops after `limit` rows; on
        # PostgreSQL the included columns make a page and a summary's counts index-only.
        Index(
            "ix_score_province_rank",
            "province_id",
            "period",
            text("score DESC"),
            "village_code",
            postgresql_include=["status", "submission_status", "commune_id", "village_id"],
        ),
        Index(
            "ix_score_commune_rank",
            "commune_id",
            "period",
            text("score DESC"),
            "village_code",
            postgresql_include=["status", "submission_status", "village_id"],
        ),
        Index("ix_score_village_id_period", "village_id", "period", unique=True),
        Index("ix_score_criteria_set_version_id", "criteria_set_version_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("submission.id", ondelete="CASCADE"), nullable=False, unique=True
        )
    )
    village_id: int = Field(sa_column=Column(Integer, ForeignKey("unit.id"), nullable=False))
    commune_id: int = Field(sa_column=Column(Integer, ForeignKey("unit.id"), nullable=False))
    province_id: int = Field(sa_column=Column(Integer, ForeignKey("unit.id"), nullable=False))
    village_code: str = Field(sa_column=Column(String(32), nullable=False))
    period: str = Field(sa_column=Column(String(6), nullable=False))
    criteria_set_version_id: int = Field(
        sa_column=Column(Integer, ForeignKey("criteria_set_version.id"), nullable=False)
    )
    status: str = Field(sa_column=Column(String(10), nullable=False))
    score: Decimal = Field(sa_column=Column(Numeric(4, 1), nullable=False))
    submission_revision: int = Field(sa_column=Column(Integer, nullable=False))
    submission_status: str = Field(sa_column=Column(String(10), nullable=False))
    computed_at: datetime = created_at_field()
    # The answer to GET /villages/{code}/score, rendered by the write that scored it, and
    # its ETag; a read sends these bytes as they are (None only for rows scored before
    # the column existed, until `smartvillage rescore`: reads render those on the fly).
    body: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    etag: str | None = Field(default=None, sa_column=Column(String(40), nullable=True))


class ScoreIndicator(SQLModel, table=True):
    """One applicable, reported indicator of a stored score (what summaries average)."""

    __tablename__ = "score_indicator"
    __table_args__ = (
        Index("ix_score_indicator_province_id_period", "province_id", "period"),
        Index("ix_score_indicator_commune_id_period", "commune_id", "period"),
    )

    submission_id: int = Field(
        sa_column=Column(Integer, ForeignKey("submission.id", ondelete="CASCADE"), primary_key=True)
    )
    indicator_code: str = Field(sa_column=Column(String(64), primary_key=True))
    commune_id: int = Field(sa_column=Column(Integer, nullable=False))
    province_id: int = Field(sa_column=Column(Integer, nullable=False))
    period: str = Field(sa_column=Column(String(6), nullable=False))
    value: Decimal = Field(sa_column=Column(Numeric(14, 4), nullable=False))
    passed: bool = Field(sa_column=Column(Boolean, nullable=False))


class IndicatorRollup(SQLModel, table=True):
    """Per (commune, period, indicator): counts and sums over the villages with a value.

    Summaries add these up (a province is ~100 communes × 19 indicators) instead of
    averaging every village's indicator; `approved_*` serve integrators. Refreshed by
    `scoring` whenever a score under the commune changes.
    """

    __tablename__ = "indicator_rollup"
    __table_args__ = (Index("ix_indicator_rollup_province_id_period", "province_id", "period"),)

    commune_id: int = Field(sa_column=Column(Integer, primary_key=True))
    period: str = Field(sa_column=Column(String(6), primary_key=True))
    indicator_code: str = Field(sa_column=Column(String(64), primary_key=True))
    province_id: int = Field(sa_column=Column(Integer, nullable=False))
    villages: int = Field(sa_column=Column(Integer, nullable=False))
    passed: int = Field(sa_column=Column(Integer, nullable=False))
    value_sum: Decimal = Field(sa_column=Column(Numeric(18, 4), nullable=False))
    approved_villages: int = Field(sa_column=Column(Integer, nullable=False))
    approved_passed: int = Field(sa_column=Column(Integer, nullable=False))
    approved_value_sum: Decimal = Field(sa_column=Column(Numeric(18, 4), nullable=False))


class CriteriaSetRef(SQLModel):
    code: str
    version: int


class SubmissionRef(SQLModel):
    status: str
    revision: int


class GapPublic(SQLModel):
    measure: str
    amount: JsonNumber | int | None


class TargetPublic(SQLModel):
    op: str
    value: bool | int | JsonNumber


class IndicatorPublic(SQLModel):
    code: str
    criterion: str
    kind: str
    value: bool | int | JsonNumber | None
    target: TargetPublic
    passed: bool | None
    applicable: bool
    mandatory: bool
    attainment: JsonNumber | None
    gap: GapPublic | None


class ScorePublic(SQLModel):
    """A village's score with per-indicator detail and gaps."""

    village_code: str
    period: str
    criteria_set: CriteriaSetRef
    status: str
    score: JsonNumber
    submission: SubmissionRef
    indicators: list[IndicatorPublic]
    computed_at: datetime


class TrendItem(SQLModel):
    period: str
    score: JsonNumber
    status: str
    criteria_set: CriteriaSetRef
    submission: SubmissionRef
    computed_at: datetime


class RankingItem(SQLModel):
    rank: int
    village_code: str
    village_name: str
    commune_code: str
    period: str
    score: JsonNumber
    status: str


class IndicatorSummary(SQLModel):
    code: str
    mean: JsonNumber | None
    pass_rate: JsonNumber | None
    villages: int


class SummaryPublic(SQLModel):
    unit_code: str
    period: str | None
    villages_total: int
    villages_reported: int
    villages_met: int
    communes_total: int
    communes_with_smart_village: int
    indicators: list[IndicatorSummary]
