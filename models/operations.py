"""Operational state kept with the data: rate counters, idempotent answers, the demo secret."""

from datetime import datetime

from sqlalchemy import JSON, Column, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import created_at_field, optional_time_field


class RateCounter(SQLModel, table=True):
    """Requests (or failed sign-ins) counted per key and fixed time window, across workers."""

    __tablename__ = "rate_counter"
    __table_args__ = (Index("ix_rate_counter_window_start", "window_start"),)

    key: str = Field(sa_column=Column(String(200), primary_key=True))
    window_start: int = Field(sa_column=Column(Integer, primary_key=True))
    count: int = Field(sa_column=Column(Integer, nullable=False))


class IdempotencyRecord(SQLModel, table=True):
    """A write sent with `Idempotency-Key`: who sent it, what, and the answer it got."""

    __tablename__ = "idempotency_record"
    __table_args__ = (
        UniqueConstraint("caller", "key"),
        Index("ix_idempotency_record_created_at", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    caller: str = Field(sa_column=Column(String(200), nullable=False))
    key: str = Field(sa_column=Column(String(255), nullable=False))
    request_hash: str = Field(sa_column=Column(String(64), nullable=False))
    state: str = Field(sa_column=Column(String(10), nullable=False))
    status_code: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    headers: list[list[str]] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    body: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    created_at: datetime = created_at_field()
    completed_at: datetime | None = optional_time_field()


class InstanceSecret(SQLModel, table=True):
    """A secret generated for this database (demo mode's token-signing key)."""

    __tablename__ = "instance_secret"

    name: str = Field(sa_column=Column(String(64), primary_key=True))
    value: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = created_at_field()
