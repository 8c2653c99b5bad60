"""Criteria sets: drafts from documents, publish and retire (both rescore), list and read."""

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from api.core.caller import SYSTEM_CALLER, Caller
from api.core.pagination import Page, decode_cursor, page_of
from api.core.problems import Conflict, CriteriaSetState, FieldError, NotFound, Unprocessable
from api.services import audit, locks, scoring
from criteria.document import CriteriaDocument, DocumentInvalid, parse_document
from models.base import utcnow
from models.criteria_sets import (
    CriteriaSetPublic,
    CriteriaSetVersion,
    CriteriaSetVersionPublic,
    VersionSummary,
)


def parse_or_422(data: Any) -> CriteriaDocument:
    """A validated document, or a 422 naming every bad place in it."""
    if not isinstance(data, dict):
        raise Unprocessable(
            "A criteria-set document must be a JSON object.",
            errors=[FieldError("", "type_error", "expected an object")],
        )
    try:
        return parse_document(data)
    except DocumentInvalid as exc:
        errors = [FieldError(".".join(map(str, i.loc)), i.code, i.message) for i in exc.issues]
        raise Unprocessable(
            f"The criteria-set document has {len(errors)} problem(s).", errors=errors
        ) from None


async def _find(
    session: AsyncSession, code: str, version: int, *, lock: bool = False
) -> CriteriaSetVersion | None:
    stmt = select(CriteriaSetVersion).where(
        col(CriteriaSetVersion.code) == code, col(CriteriaSetVersion.version) == version
    )
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_version(
    session: AsyncSession, *, code: str, version: int, lock: bool = False
) -> CriteriaSetVersion:
    """One stored version, or 404 (`lock`: read fresh and locked, for publish and retire)."""
    row = await _find(session, code, version, lock=lock)
    if row is None:
        raise NotFound(f"Criteria set {code!r} has no version {version}.")
    return row


async def _locked(session: AsyncSession, code: str, version: int) -> CriteriaSetVersion:
    """The version under the exclusive scoring lock: publish and retire rescore whole
    scopes, so they queue behind each other and behind single-village writes."""
    await locks.scoring_lock(session, exclusive=True)
    return await get_version(session, code=code, version=version, lock=True)


async def add_draft(session: AsyncSession, *, doc: CriteriaDocument) -> CriteriaSetVersion:
    """Store a validated document as a draft (no commit); versions only ever grow."""
    latest = await session.scalar(
        select(func.max(col(CriteriaSetVersion.version))).where(
            col(CriteriaSetVersion.code) == doc.code
        )
    )
    if latest is not None and doc.version <= latest:
        raise Conflict(
            f"Criteria set {doc.code!r} already has version {latest}; "
            f"a new version must be greater than {latest}.",
            errors=[FieldError("version", "version_not_increasing", f"must be > {latest}")],
        )
    row = CriteriaSetVersion(
        code=doc.code,
        version=doc.version,
        status="draft",
        scope=doc.scope,
        period_type=doc.period_type,
        effective_from=doc.effective_from,
        effective_start=doc.effective_period.start,
        title_vi=doc.title.vi,
        title_en=doc.title.en,
        document=doc.model_dump(mode="json", exclude_none=True),
    )
    session.add(row)
    await session.flush()
    return row


async def create_draft(
    session: AsyncSession, *, data: Any, actor: Caller
) -> CriteriaSetVersionPublic:
    """Validate a document and store it as a new draft version."""
    row = await add_draft(session, doc=parse_or_422(data))
    _audit(session, actor, "criteria_set.create", row, before=None)
    await session.commit()
    return to_public(row)


async def publish_row(session: AsyncSession, row: CriteriaSetVersion) -> int:
    """Publish a draft and rescore what it may now score (no commit); returns scores written."""
    if row.status != "draft":
        raise CriteriaSetState(
            f"Version {row.version} of {row.code!r} is {row.status}; only a draft can be published."
        )
    row.status, row.published_at = "published", utcnow()
    await session.flush()
    year = row.effective_start.year
    return await scoring.rescore_after_publish(session, scope=row.scope, effective_year=year)


async def publish(
    session: AsyncSession, *, code: str, version: int, actor: Caller
) -> CriteriaSetVersionPublic:
    """Publish a draft version; affected village-periods are rescored in the same transaction."""
    row = await _locked(session, code, version)
    rescored = await publish_row(session, row)
    _audit(session, actor, "criteria_set.publish", row, before="draft", rescored=rescored)
    await session.commit()
    return to_public(row)


async def retire(
    session: AsyncSession, *, code: str, version: int, actor: Caller
) -> CriteriaSetVersionPublic:
    """Retire a published version; what it scored is rescored (or left without a score)."""
    row = await _locked(session, code, version)
    if row.status != "published":
        raise CriteriaSetState(
            f"Version {version} of {code!r} is {row.status}; only a published one can be retired."
        )
    row.status, row.retired_at = "retired", utcnow()
    await session.flush()
    assert row.id is not None
    rescored = await scoring.rescore_after_retire(session, version_id=row.id)
    _audit(session, actor, "criteria_set.retire", row, before="published", rescored=rescored)
    await session.commit()
    return to_public(row)


def _audit(
    session: AsyncSession,
    actor: Caller,
    action: str,
    row: CriteriaSetVersion,
    *,
    before: str | None,
    rescored: int | None = None,
) -> None:
    ref = {"code": row.code, "version": row.version, "scope": row.scope}
    after: dict[str, Any] = {**ref, "status": row.status}
    if rescored is not None:
        after["rescored"] = rescored
    before_state = {**ref, "status": before} if before else None
    audit.record(session, actor=actor, action=action, before=before_state, after=after)


def to_public(row: CriteriaSetVersion) -> CriteriaSetVersionPublic:
    """One version with its whole document and its status."""
    return CriteriaSetVersionPublic(
        code=row.code,
        version=row.version,
        status=row.status,
        published_at=row.published_at,
        retired_at=row.retired_at,
        created_at=row.created_at,
        document={**row.document, "status": row.status},
    )


async def list_sets(
    session: AsyncSession, *, limit: int, cursor: str | None
) -> Page[CriteriaSetPublic]:
    """Criteria sets by code, each with all its versions."""
    key = decode_cursor(cursor, fields={"code": str})
    code_column = col(CriteriaSetVersion.code)
    stmt = select(code_column).distinct().order_by(code_column).limit(limit + 1)
    if key:
        stmt = stmt.where(code_column > key["code"])
    page = page_of(list((await session.execute(stmt)).scalars()), limit, lambda c: {"code": c})
    codes = page.items
    rows = await session.execute(
        select(CriteriaSetVersion)
        .where(code_column.in_(codes))
        .order_by(code_column, col(CriteriaSetVersion.version))
    )
    grouped: dict[str, list[CriteriaSetVersion]] = {c: [] for c in codes}
    for row in rows.scalars():
        grouped[row.code].append(row)
    items = [_set_public(versions) for versions in grouped.values()]
    return Page[CriteriaSetPublic](items=items, next_cursor=page.next_cursor)


def _set_public(versions: list[CriteriaSetVersion]) -> CriteriaSetPublic:
    latest = versions[-1]
    return CriteriaSetPublic(
        code=latest.code,
        title={"vi": latest.title_vi, "en": latest.title_en},
        scope=latest.scope,
        versions=[
            VersionSummary(
                version=v.version,
                status=v.status,
                effective_from=v.effective_from,
                published_at=v.published_at,
            )
            for v in versions
        ],
    )


async def load_and_publish(
    session: AsyncSession, *, data: Any, actor: Caller = SYSTEM_CALLER
) -> tuple[CriteriaSetVersion, str]:
    """Validate, store and publish a document (the CLI's `load-criteria`); idempotent.

    Returns the version and what happened: `published`, or `unchanged` when that exact
    document is already published.
    """
    doc = parse_or_422(data)
    await locks.scoring_lock(session, exclusive=True)
    row = await _find(session, doc.code, doc.version)
    if row is not None and row.status != "draft":
        if row.document == doc.model_dump(mode="json", exclude_none=True):
            return row, "unchanged"
        raise Conflict(
            f"Version {doc.version} of {doc.code!r} is {row.status} with a different document; "
            "publish a new version instead."
        )
    row = row or await add_draft(session, doc=doc)
    rescored = await publish_row(session, row)
    _audit(session, actor, "criteria_set.publish", row, before=None, rescored=rescored)
    await session.commit()
    return row, "published"
