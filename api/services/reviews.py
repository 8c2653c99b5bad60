"""The review workflow: approve, return (with a comment), reopen; and the review queue."""

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from api.core.caller import Caller
from api.core.pagination import Page, decode_cursor, page_of
from api.core.problems import Conflict, FieldError, NotFound, Unprocessable
from api.core.scope import under
from api.services import audit, locks, scoring
from api.services.submissions import check_if_match, to_public
from criteria.periods import Period
from models.base import utcnow
from models.submissions import Submission, SubmissionPublic
from models.units import Unit

Action = Literal["approve", "return", "reopen"]
# Which status each step starts from, and where it leads.
TRANSITIONS: dict[Action, tuple[frozenset[str], str]] = {
    "approve": (frozenset({"submitted"}), "approved"),
    "return": (frozenset({"submitted"}), "returned"),
    "reopen": (frozenset({"approved", "returned"}), "submitted"),
}


def _state(sub: Submission) -> dict[str, Any]:
    return {"status": sub.status, "revision": sub.revision, "reviewed_by": sub.reviewed_by,
            "review_comment": sub.review_comment}  # fmt: skip


def _check_step(sub: Submission, action: Action, comment: str | None) -> str | None:
    """The comment to keep, or 409 for a step the status does not allow / 422 without one."""
    allowed, _ = TRANSITIONS[action]
    if sub.status not in allowed:
        raise Conflict(
            f"Cannot {action} a submission that is {sub.status} "
            f"(allowed from: {', '.join(sorted(allowed))})."
        )
    text = (comment or "").strip() or None
    if action == "return" and text is None:
        raise Unprocessable(
            "A returned submission needs a comment saying what to fix.",
            errors=[FieldError("comment", "required", "must not be empty")],
        )
    return text


async def review(
    session: AsyncSession,
    *,
    village: Unit,
    period: Period,
    action: Action,
    reviewer: Caller,
    comment: str | None = None,
    if_match: str | None = None,
) -> Submission:
    """Move a submission through the workflow; the status changes, the revision does not.

    The row is locked before it is read, so the step applies to exactly the revision
    `If-Match` names (or, without it, to the revision the answer and the audit report)."""
    await locks.scoring_lock(session)
    sub = await locks.lock_submission(session, village_id=village.id or 0, period=str(period))
    if sub is None:
        raise NotFound(f"Village {village.code!r} has no submission for {period}.")
    check_if_match(sub, if_match)
    text = _check_step(sub, action, comment)
    before = _state(sub)
    assert sub.id is not None
    target = TRANSITIONS[action][1]
    sub.status, sub.reviewed_by, sub.reviewed_at = target, reviewer.username, utcnow()
    sub.review_comment = text if action != "reopen" else sub.review_comment
    await session.flush()
    # The stored score names the submission's status: scored again, its answer re-rendered.
    await scoring.rescore_submissions(session, [sub.id])
    audit.record(session, actor=reviewer, action=f"submission.{action}", unit=village,
                 period=sub.period, before=before, after=_state(sub))  # fmt: skip
    await session.commit()
    return sub


async def queue(
    session: AsyncSession,
    *,
    unit: Unit | None,
    period: Period | None,
    status: str | None,
    limit: int,
    cursor: str | None,
) -> Page[SubmissionPublic]:
    """Submissions under `unit` (whole subtree), oldest change first: the review queue."""
    key = decode_cursor(cursor, fields={"at": datetime, "id": int})
    village = aliased(Unit)
    stmt = (
        select(Submission, village)
        .join(village, col(village.id) == Submission.village_id)
        .order_by(col(Submission.submitted_at), col(Submission.id))
        .limit(limit + 1)
    )
    if unit is not None:
        place = {"province_id": village.province_id, "commune_id": village.commune_id}
        stmt = stmt.where(under(unit, **place, village_id=village.id))
    if period is not None:
        stmt = stmt.where(col(Submission.period) == str(period))
    if status:
        stmt = stmt.where(col(Submission.status) == status)
    if key:
        at, last_id = key["at"], key["id"]
        submitted_at = col(Submission.submitted_at)
        stmt = stmt.where(
            (submitted_at > at) | ((submitted_at == at) & (col(Submission.id) > last_id))
        )
    page = page_of((await session.execute(stmt)).all(), limit, _queue_key)
    items = [to_public(sub, village) for sub, village in page.items]
    return Page[SubmissionPublic](items=items, next_cursor=page.next_cursor)


def _queue_key(row: Any) -> dict[str, Any]:
    sub = row[0]
    return {"at": sub.submitted_at.isoformat(), "id": sub.id}


async def caller_unit(session: AsyncSession, caller: Caller) -> Unit | None:
    """The caller's own unit (None for an admin without one)."""
    return await session.get(Unit, caller.unit_id) if caller.unit_id else None
