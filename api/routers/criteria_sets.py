"""Criteria sets: versioned documents, their drafts, publication and retirement."""

from typing import Annotated, Any

from fastapi import Body, Path

from api.core.pagination import DEFAULT_LIMIT, Page
from api.services import criteria_sets as service
from api.web.deps import MAX_ID, CallerDep, CursorQuery, LimitQuery, SessionDep, resource_router
from models.criteria_sets import CriteriaSetPublic, CriteriaSetVersionPublic

router = resource_router(prefix="/criteria-sets", tags=["criteria sets"])
SetCode = Annotated[str, Path(pattern=r"^[a-z0-9-]{1,64}$")]
VersionNo = Annotated[int, Path(ge=1, le=MAX_ID, description="A version (1 to 2^31 - 1).")]


@router.get("", status_code=200)
async def list_criteria_sets(
    session: SessionDep, limit: LimitQuery = DEFAULT_LIMIT, cursor: CursorQuery = None
) -> Page[CriteriaSetPublic]:
    """Criteria sets with their versions and statuses."""
    return await service.list_sets(session, limit=limit, cursor=cursor)


@router.get("/{code}/versions/{version}", status_code=200)
async def get_criteria_set_version(
    code: SetCode, version: VersionNo, session: SessionDep
) -> CriteriaSetVersionPublic:
    """One version: the whole document and its status."""
    return service.to_public(await service.get_version(session, code=code, version=version))


@router.post("", status_code=201)
async def create_criteria_set_version(
    session: SessionDep, caller: CallerDep, document: Annotated[dict[str, Any], Body()]
) -> CriteriaSetVersionPublic:
    """Create a draft version from a criteria-set document (422 says where it is wrong)."""
    return await service.create_draft(session, data=document, actor=caller)


@router.post("/{code}/versions/{version}/publish", status_code=200)
async def publish_criteria_set_version(
    code: SetCode, version: VersionNo, session: SessionDep, caller: CallerDep
) -> CriteriaSetVersionPublic:
    """Publish a draft; the village-periods it may now score are rescored."""
    return await service.publish(session, code=code, version=version, actor=caller)


@router.post("/{code}/versions/{version}/retire", status_code=200)
async def retire_criteria_set_version(
    code: SetCode, version: VersionNo, session: SessionDep, caller: CallerDep
) -> CriteriaSetVersionPublic:
    """Retire a published version; what it scored is rescored by the next set in force."""
    return await service.retire(session, code=code, version=version, actor=caller)
