"""The audit trail: every write, who made it, and the values before and after."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Integer, String
from sqlmodel import Field, SQLModel

from models.base import created_at_field


class AuditEvent(SQLModel, table=True):
    """One write. Rows are only ever inserted; no API changes them."""

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_at", "at"),
        Index("ix_audit_event_province_id_at", "province_id", "at"),
        Index("ix_audit_event_commune_id_at", "commune_id", "at"),
        Index("ix_audit_event_unit_id_at", "unit_id", "at"),
        Index("ix_audit_event_actor_at", "actor", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = created_at_field()
    actor: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    role: str = Field(sa_column=Column(String(16), nullable=False))
    action: str = Field(sa_column=Column(String(64), nullable=False))
    unit_code: str | None = Field(default=None, sa_column=Column(String(32), nullable=True))
    unit_id: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    province_id: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    commune_id: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    period: str | None = Field(default=None, sa_column=Column(String(6), nullable=True))
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    request_id: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))


class AuditPublic(SQLModel):
    """An audit item as the API returns it."""

    id: int
    at: datetime
    actor: str | None
    role: str
    action: str
    unit_code: str | None
    period: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    request_id: str | None
