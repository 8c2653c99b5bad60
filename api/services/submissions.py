"""Submissions: validated puts with every revision kept, reads, and the score recomputed
in the same transaction as the change."""

import hashlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from api.core.caller import Caller
from api.core.pagination import Page, decode_cursor, page_of
from api.core.problems import (
    FieldError,
    NotFound,
    PreconditionFailed,
    SubmissionLocked,
    Unprocessable,
)
from api.services import audit, locks, scoring
from api.services.versions import ActiveVersion, choose, published_versions
from criteria.document import ValuesInvalid, validate_values
from criteria.periods import Period
from criteria.rounding import json_number
from models.base import table_of, utcnow
from models.submissions import (
    RevisionPublic,
    Submission,
    SubmissionIn,
    SubmissionPublic,
    SubmissionRevision,
)
from models.units import Unit


def etag(sub: Submission) -> str:
    """The submission's validator: its revision, plus a digest of its review state (so an
    approve-and-reopen in between also makes an older ETag stale)."""
    at = sub.reviewed_at.isoformat() if sub.reviewed_at else ""
    state = f"{sub.status}|{sub.reviewed_by or ''}|{at}|{sub.review_comment or ''}"
    return f'"r{sub.revision}-{hashlib.blake2b(state.encode(), digest_size=4).hexdigest()}"'


def _json_value(value: int | bool | Decimal) -> int | bool | float:
    return json_number(value) if isinstance(value, Decimal) else value


_VILLAGE = table_of(Unit).alias("village")
_PROVINCE = table_of(Unit).alias("province")
# The village's place as it is now (read under the scoring lock, so a unit move cannot slip
# in between): one statement built once, instead of a get per unit and a scoring select.
_PLACE = (
    select(_VILLAGE.c.code, _VILLAGE.c.commune_id, _VILLAGE.c.province_id, _PROVINCE.c.code)
    .outerjoin(_PROVINCE, _PROVINCE.c.id == _VILLAGE.c.province_id)
    .where(_VILLAGE.c.id == bindparam("village_id"))
)


@dataclass(frozen=True)
class _Place:
    """What scoring a village's submission needs besides the submission itself."""

    village_code: str
    commune_id: int
    province_id: int
    province_code: str | None
    versions: list[ActiveVersion]


async def _place(session: AsyncSession, village: Unit) -> _Place:
    code, commune_id, province_id, province_code = (
        await session.execute(_PLACE, {"village_id": village.id})
    ).one()
    versions = await published_versions(session)
    return _Place(code, commune_id, province_id, province_code, versions)


async def version_for(session: AsyncSession, *, village: Unit, period: Period) -> ActiveVersion:
    """The criteria-set version that scores this village-period, or a 422 saying why not."""
    place = await _place(session, village)
    return check_version(place.versions, place.province_code or "", village.code, period)


def check_version(
    versions: list[ActiveVersion], province_code: str, village_code: str, period: Period
) -> ActiveVersion:
    """The version in force for a village-period, or a 422 naming `period` and why."""
    if period.is_future():
        raise Unprocessable(
            f"Period {period} has not started yet (Asia/Ho_Chi_Minh time).",
            errors=[FieldError("period", "future_period", "a future period cannot be reported")],
        )
    version = choose(versions, province_code, period)
    if version is None:
        raise Unprocessable(
            f"No published criteria set applies to village {village_code!r} for {period}.",
            errors=[FieldError("period", "no_criteria_set", "no criteria set in force")],
        )
    if version.period_type != period.kind:
        raise Unprocessable(
            f"Criteria set {version.code} v{version.version} is reported by {version.period_type}; "
            f"{period} is a {period.kind}.",
            errors=[FieldError("period", "wrong_period_type", f"expected a {version.period_type}")],
        )
    return version


def clean_or_422(version: ActiveVersion, values: dict[str, Any]) -> dict[str, Any]:
    """Values checked against the set's measures, as stored JSON; 422 names each measure."""
    try:
        cleaned = validate_values(version.doc, values)
    except ValuesInvalid as exc:
        errors = [FieldError(f"values.{i.measure}", i.code, i.message) for i in exc.issues]
        names = ", ".join(sorted({i.measure for i in exc.issues}))
        raise Unprocessable(
            f"Some reported values are not valid: {names}.", errors=errors
        ) from None
    return {k: _json_value(v) for k, v in cleaned.items()}


async def _current(session: AsyncSession, village: Unit, period: Period) -> Submission | None:
    stmt = select(Submission).where(
        col(Submission.village_id) == village.id, col(Submission.period) == str(period)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


def check_if_match(sub: Submission, if_match: str | None) -> None:
    """412 unless `If-Match` is absent, `*`, or names the submission's current ETag."""
    if if_match is None or if_match.strip() == "*":
        return
    if etag(sub) not in {t.strip().removeprefix("W/") for t in if_match.split(",")}:
        raise PreconditionFailed(
            f"The submission changed since you read it (now {etag(sub)}); reload and retry."
        )


def _check_writable(sub: Submission, if_match: str | None) -> None:
    check_if_match(sub, if_match)
    if sub.status == "approved":
        raise SubmissionLocked(
            "This submission is approved and locked; a reviewer must reopen it first."
        )


def _new_submission(village: Unit, period: Period, if_match: str | None) -> Submission:
    if if_match is not None and if_match.strip() != "*":
        raise PreconditionFailed("There is no submission yet to match If-Match against.")
    return Submission(
        village_id=village.id or 0,
        period=str(period),
        revision=0,
        status="submitted",
        values={},
        evidence=[],
    )


async def put(
    session: AsyncSession,
    *,
    village: Unit,
    period: Period,
    body: SubmissionIn,
    actor: Caller,
    if_match: str | None = None,
) -> tuple[Submission, bool]:
    """Create or revise a submission; returns it and whether it was created."""
    await locks.scoring_lock(session)
    place = await _place(session, village)
    version = check_version(place.versions, place.province_code or "", village.code, period)
    values = clean_or_422(version, body.values)
    evidence = [str(u) for u in body.evidence]
    sub = await locks.lock_submission(session, village_id=village.id or 0, period=str(period))
    created = sub is None
    before = None if sub is None else _audit_state(sub)
    if sub is None:
        sub = _new_submission(village, period, if_match)
        session.add(sub)
    else:
        _check_writable(sub, if_match)
        same = (sub.values, sub.evidence, sub.note) == (values, evidence, body.note)
        if same and sub.status == "submitted":
            return sub, False
    _revise(sub, values=values, evidence=evidence, note=body.note, actor=actor)
    if sub.id is None:
        await session.flush()  # the new submission's id, for its revision and score
    session.add(_revision_row(sub))
    audit.record(session, actor=actor, action="submission.put", unit=village, period=sub.period,
                 before=before, after=_audit_state(sub))  # fmt: skip
    await session.flush()
    await _rescore(session, sub, place)
    await session.commit()
    return sub, created


async def _rescore(session: AsyncSession, sub: Submission, place: _Place) -> None:
    """`scoring.rescore_submissions([sub.id])` from what the PUT already read: the same
    rows written, without reading the submission and its units back."""
    if place.province_code is None:
        return  # the scoring select joins the province: nothing to score
    assert sub.id is not None
    row = scoring.ScoringRow(
        submission_id=sub.id,
        village_id=sub.village_id,
        village_code=place.village_code,
        commune_id=place.commune_id,
        province_id=place.province_id,
        province_code=place.province_code,
        period=sub.period,
        revision=sub.revision,
        status=sub.status,
        values=sub.values,
    )
    await scoring.score_rows(session, [row], place.versions)


def _audit_state(sub: Submission) -> dict[str, Any]:
    return {"status": sub.status, "revision": sub.revision, "values": sub.values,
            "evidence": sub.evidence, "note": sub.note}  # fmt: skip


def _revise(
    sub: Submission, *, values: dict[str, Any], evidence: list[str], note: str | None, actor: Caller
) -> None:
    sub.revision += 1
    sub.values, sub.evidence, sub.note = values, evidence, note
    sub.status, sub.submitted_by, sub.submitted_at = "submitted", actor.username, utcnow()
    sub.reviewed_by = sub.reviewed_at = sub.review_comment = None


def _revision_row(sub: Submission) -> SubmissionRevision:
    return SubmissionRevision(
        submission_id=sub.id or 0,
        revision=sub.revision,
        values=sub.values,
        evidence=sub.evidence,
        note=sub.note,
        submitted_by=sub.submitted_by,
        submitted_at=sub.submitted_at,
    )


async def get(session: AsyncSession, *, village: Unit, period: Period) -> Submission:
    """The current revision, or 404."""
    sub = await _current(session, village, period)
    if sub is None:
        raise NotFound(f"Village {village.code!r} has no submission for {period}.")
    return sub


def to_public(sub: Submission, village: Unit) -> SubmissionPublic:
    """The API shape of a submission."""
    return SubmissionPublic(
        village_code=village.code,
        period=sub.period,
        values=sub.values,
        evidence=sub.evidence,
        note=sub.note,
        status=sub.status,
        revision=sub.revision,
        submitted_by=sub.submitted_by,
        submitted_at=sub.submitted_at,
        reviewed_by=sub.reviewed_by,
        review_comment=sub.review_comment,
    )


async def revisions(
    session: AsyncSession, *, village: Unit, period: Period, limit: int, cursor: str | None
) -> Page[RevisionPublic]:
    """Every kept revision, oldest first."""
    sub = await get(session, village=village, period=period)
    key = decode_cursor(cursor, fields={"revision": int})
    stmt = (
        select(SubmissionRevision)
        .where(col(SubmissionRevision.submission_id) == sub.id)
        .order_by(col(SubmissionRevision.revision))
        .limit(limit + 1)
    )
    if key:
        stmt = stmt.where(SubmissionRevision.revision > key["revision"])
    rows = [RevisionPublic.model_validate(r, from_attributes=True)
            for r in (await session.execute(stmt)).scalars()]  # fmt: skip
    return page_of(rows, limit, lambda r: {"revision": r.revision})
