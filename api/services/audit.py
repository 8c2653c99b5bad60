"""The audit trail: written in the same transaction as each change; read by scope."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from api.core.caller import Caller
from api.core.pagination import Page, decode_cursor, page_of
from api.core.request_context import request_id
from api.core.scope import under
from models.audit import AuditEvent, AuditPublic
from models.units import Unit


def record(
    session: AsyncSession,
    *,
    actor: Caller,
    action: str,
    unit: Unit | None = None,
    period: str | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Add one audit event to the session (the caller's commit writes it with the change)."""
    province_id = commune_id = None
    if unit is not None:
        province_id = unit.id if unit.level == "province" else unit.province_id
        commune_id = unit.id if unit.level == "commune" else unit.commune_id
    session.add(
        AuditEvent(
            actor=actor.username,
            role=actor.role,
            action=action,
            unit_code=unit.code if unit else None,
            unit_id=unit.id if unit else None,
            province_id=province_id,
            commune_id=commune_id,
            period=period,
            before=before,
            after=after,
            request_id=request_id.get(),
        )
    )


def _under(unit: Unit) -> ColumnElement[bool]:
    events = AuditEvent
    return under(
        unit,
        province_id=events.province_id,
        commune_id=events.commune_id,
        village_id=events.unit_id,
    )


async def list_events(
    session: AsyncSession,
    *,
    unit: Unit | None,
    actor: str | None,
    since: datetime | None,
    limit: int,
    cursor: str | None,
) -> Page[AuditPublic]:
    """Audit events, newest first, under `unit` (whole subtree), by `actor`, since a time."""
    key = decode_cursor(cursor, fields={"id": int})
    stmt = select(AuditEvent).order_by(col(AuditEvent.id).desc()).limit(limit + 1)
    if unit is not None:
        stmt = stmt.where(_under(unit))
    if actor:
        stmt = stmt.where(col(AuditEvent.actor) == actor.strip().lower())
    if since is not None:  # a time without an offset is taken as UTC
        since = since.replace(tzinfo=UTC) if since.tzinfo is None else since.astimezone(UTC)
        stmt = stmt.where(col(AuditEvent.at) >= since)
    if key:
        stmt = stmt.where(col(AuditEvent.id) < key["id"])
    rows = [AuditPublic.model_validate(r, from_attributes=True)
            for r in (await session.execute(stmt)).scalars()]  # fmt: skip
    return page_of(rows, limit, lambda e: {"id": e.id})
