"""The audit trail, read-only."""

from typing import Annotated

from fastapi import Query

from api.core.pagination import DEFAULT_LIMIT, Page
from api.services import audit
from api.web.deps import (
    CursorQuery,
    LimitQuery,
    ScopeUnitDep,
    SessionDep,
    SinceQuery,
    resource_router,
)
from models.audit import AuditPublic

router = resource_router(prefix="/audit", tags=["audit"])


@router.get("", status_code=200)
async def list_audit_events(
    session: SessionDep,
    scope: ScopeUnitDep,
    unit: Annotated[
        str | None, Query(max_length=32, description="A unit: its whole subtree.")
    ] = None,
    actor: Annotated[str | None, Query(max_length=64, description="A username.")] = None,
    since: SinceQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> Page[AuditPublic]:
    """Who changed what and when, newest first; a reviewer sees only their own unit's subtree."""
    return await audit.list_events(
        session, unit=scope, actor=actor, since=since, limit=limit, cursor=cursor
    )
