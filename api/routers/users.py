"""Accounts, managed by admins."""

from api.core.pagination import DEFAULT_LIMIT, Page
from api.services import accounts
from api.web.deps import CallerDep, CursorQuery, LimitQuery, SessionDep, resource_router
from models.accounts import UserCreate, UserPublic

router = resource_router(prefix="/users", tags=["users"])


@router.post("", status_code=201)
async def create_user(body: UserCreate, session: SessionDep, caller: CallerDep) -> UserPublic:
    """Create an account: `admin`, `reviewer` (of a province or commune) or `village_head`."""
    return await accounts.create_user(session, body=body, actor=caller)


@router.get("", status_code=200)
async def list_users(
    session: SessionDep, limit: LimitQuery = DEFAULT_LIMIT, cursor: CursorQuery = None
) -> Page[UserPublic]:
    """Accounts by username."""
    return await accounts.list_users(session, limit=limit, cursor=cursor)
