"""Integrator API keys: created by an admin (shown once), revoked, checked per request."""

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from api.core import security
from api.core.caller import Caller
from api.core.pagination import Page, decode_cursor, page_of
from api.core.problems import FieldError, NotFound, Unprocessable
from api.services import audit, units
from models.accounts import ApiKey, ApiKeyCreate, ApiKeyCreated, ApiKeyPublic
from models.base import utcnow
from models.units import Unit

LAST_USED_RESOLUTION = timedelta(minutes=1)  # at most one write per key per minute


async def create(session: AsyncSession, *, body: ApiKeyCreate, actor: Caller) -> ApiKeyCreated:
    """Make a key; the answer is the only place the key itself ever appears."""
    unit = None
    if body.unit_code:
        unit = await units.find_by_code(session, code=body.unit_code)
        if unit is None:
            raise Unprocessable(
                f"No unit has code {body.unit_code!r}.",
                errors=[FieldError("unit_code", "unknown_unit", "no such unit")],
            )
    made = security.new_api_key()
    row = ApiKey(
        name=body.name,
        prefix=made.prefix,
        key_hash=made.key_hash,
        unit_id=unit.id if unit else None,
        created_by=actor.username,
    )
    session.add(row)
    await session.flush()
    public = _public(row, unit.code if unit else None)
    audit.record(
        session,
        actor=actor,
        action="api_key.create",
        unit=unit,
        after=public.model_dump(mode="json"),
    )
    await session.commit()
    return ApiKeyCreated(**public.model_dump(), key=made.key)


def _public(row: ApiKey, unit_code: str | None) -> ApiKeyPublic:
    return ApiKeyPublic(
        id=row.id or 0,
        name=row.name,
        prefix=row.prefix,
        unit_code=unit_code,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


async def revoke(session: AsyncSession, *, key_id: int, actor: Caller) -> None:
    """Revoke a key at once; revoking twice is harmless."""
    row = await session.get(ApiKey, key_id)
    if row is None:
        raise NotFound(f"No API key has id {key_id}.")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        audit.record(
            session,
            actor=actor,
            action="api_key.revoke",
            before={"id": row.id, "name": row.name, "prefix": row.prefix},
            after={"revoked_at": row.revoked_at.isoformat()},
        )
        await session.commit()


async def list_keys(session: AsyncSession, *, limit: int, cursor: str | None) -> Page[ApiKeyPublic]:
    """Keys by id (prefixes only)."""
    key = decode_cursor(cursor, fields={"id": int})
    stmt = (
        select(ApiKey, col(Unit.code))
        .outerjoin(Unit, col(Unit.id) == col(ApiKey.unit_id))
        .order_by(col(ApiKey.id))
        .limit(limit + 1)
    )
    if key:
        stmt = stmt.where(col(ApiKey.id) > key["id"])
    rows = [_public(row, code) for row, code in (await session.execute(stmt)).all()]
    return page_of(rows, limit, lambda k: {"id": k.id})


async def caller_for_key(session: AsyncSession, *, key: str) -> Caller | None:
    """The integrator a presented key stands for, or None (unknown, malformed or revoked)."""
    prefix = security.key_prefix(key)
    if prefix is None:
        return None
    stmt = (
        select(ApiKey, col(Unit.code), col(Unit.level))
        .outerjoin(Unit, col(Unit.id) == col(ApiKey.unit_id))
        .where(col(ApiKey.prefix) == prefix, col(ApiKey.revoked_at).is_(None))
    )
    for row, code, level in (await session.execute(stmt)).all():
        if security.same_hash(row.key_hash, key):
            await _touch(session, row)
            return Caller(
                username=f"key:{row.prefix}",
                role="integrator",
                unit_code=code,
                unit_id=row.unit_id,
                unit_level=level,
                key_id=row.id,
            )
    return None


async def _touch(session: AsyncSession, row: ApiKey) -> None:
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:
        await session.execute(
            update(ApiKey).where(col(ApiKey.id) == row.id).values(last_used_at=now)
        )
        await session.commit()
