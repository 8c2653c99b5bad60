"""Integrator API keys, managed by admins; a key is shown once, at creation."""

from fastapi import Response

from api.core.pagination import DEFAULT_LIMIT, Page
from api.services import api_keys
from api.web.deps import CallerDep, CursorQuery, IdPath, LimitQuery, SessionDep, resource_router
from models.accounts import ApiKeyCreate, ApiKeyCreated, ApiKeyPublic

router = resource_router(prefix="/api-keys", tags=["api keys"])


@router.post("", status_code=201)
async def create_api_key(
    body: ApiKeyCreate, session: SessionDep, caller: CallerDep
) -> ApiKeyCreated:
    """Create a key (optionally limited to a unit's subtree); `key` appears only here."""
    return await api_keys.create(session, body=body, actor=caller)


@router.get("", status_code=200)
async def list_api_keys(
    session: SessionDep, limit: LimitQuery = DEFAULT_LIMIT, cursor: CursorQuery = None
) -> Page[ApiKeyPublic]:
    """Keys by id, with their prefixes and last use (never the keys)."""
    return await api_keys.list_keys(session, limit=limit, cursor=cursor)


@router.delete("/{key_id}", status_code=204)
async def revoke_api_key(key_id: IdPath, session: SessionDep, caller: CallerDep) -> Response:
    """Revoke a key; it stops working at once."""
    await api_keys.revoke(session, key_id=key_id, actor=caller)
    return Response(status_code=204)
