"""Bulk submissions: every row validated first, then all applied in one transaction, or none.

A row is refused when its village is unknown or outside the caller's scope, its period is
malformed, future or has no criteria set in force, a value is bad (named by measure), the
same village-period appears twice, or the stored submission is approved (locked).
"""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from api.caller import Caller
from api.problems import ProblemError
from api.request_context import request_id
from api.services import scoring
from api.services.import_common import FileProblem, ImportBody, body_kind, rejected, row_error
from api.services.submission_rows import Batch, Item, read_rows, typed_values
from api.services.submissions import check_version, clean_or_422
from api.services.versions import published_versions
from criteria.periods import Period
from models.audit import AuditEvent
from models.base import utcnow
from models.imports import ImportErrorPublic, ImportReportPublic
from models.submissions import Submission, SubmissionRevision
from models.units import Unit

CHUNK = 500


@dataclass
class _Ready:
    """A valid row, resolved: its village, period, values, and what is stored now."""

    row: int
    village: Unit
    period: str
    values: dict[str, Any]
    stored: Submission | None = None


async def import_submissions(
    session: AsyncSession, *, body: ImportBody, dry_run: bool, actor: Caller
) -> ImportReportPublic:
    """Create or revise many submissions from CSV or JSON, all or nothing (422 lists rows)."""
    kind = body_kind(body)
    try:
        batch = await asyncio.to_thread(read_rows, kind, body.data)
    except FileProblem as exc:
        raise rejected(dry_run, 0, [exc.error]) from None
    ready = await _resolve(session, batch, actor)
    await _attach_stored(session, ready, batch.errors)
    if batch.errors:
        raise rejected(dry_run, batch.total, batch.errors)
    new = [r for r in ready if r.stored is None]
    changed = [r for r in ready if r.stored is not None and _differs(r)]
    report = ImportReportPublic(
        dry_run=dry_run,
        rows=batch.total,
        created=len(new),
        updated=len(changed),
        unchanged=len(ready) - len(new) - len(changed),
        errors=[],
    )
    if not dry_run:
        await _apply(session, new=new, changed=changed, actor=actor)
        await session.commit()
    return report


async def _villages(session: AsyncSession, codes: Sequence[str]) -> dict[str, tuple[Unit, str]]:
    province = aliased(Unit)
    found: dict[str, tuple[Unit, str]] = {}
    unique = sorted(set(codes))
    for start in range(0, len(unique), CHUNK):
        stmt = (
            select(Unit, province.code)
            .join(province, province.id == Unit.province_id)
            .where(Unit.code.in_(unique[start : start + CHUNK]), Unit.level == "village")  # type: ignore[attr-defined]
        )
        found.update({u.code: (u, p) for u, p in (await session.execute(stmt)).all()})
    return found


async def _resolve(session: AsyncSession, batch: Batch, actor: Caller) -> list[_Ready]:
    villages = await _villages(session, [i.village_code for i in batch.items])
    versions = await published_versions(session)
    seen: dict[tuple[str, str], int] = {}
    ready: list[_Ready] = []
    for item in batch.items:
        found = villages.get(item.village_code)
        error = _place_error(item, found, actor, seen)
        if error is not None:
            batch.errors.append(error)
            continue
        assert found is not None
        try:
            period = Period.parse(item.period_text)
            version = check_version(versions, found[1], item.village_code, period)
            values = clean_or_422(version, typed_values(version, item.values))
        except ValueError as exc:
            batch.errors.append(row_error(item.row, "period", "invalid_period", str(exc)))
            continue
        except ProblemError as exc:
            batch.errors += [_from_field(item.row, e.field, e.code, e.detail) for e in exc.errors]
            continue
        seen[(item.village_code, str(period))] = item.row
        ready.append(_Ready(item.row, found[0], str(period), values))
    return ready


def _place_error(
    item: Item, found: tuple[Unit, str] | None, actor: Caller, seen: dict[tuple[str, str], int]
) -> ImportErrorPublic | None:
    if found is None:
        return row_error(
            item.row, "village_code", "unknown_village", f"no village {item.village_code!r}"
        )
    if not actor.covers(found[0]):
        return row_error(item.row, "village_code", "out_of_scope", "outside your unit")
    earlier = seen.get((item.village_code, item.period_text))
    if earlier is not None:
        return row_error(
            item.row, "period", "duplicate_row", f"same village and period as row {earlier}"
        )
    return None


def _from_field(row: int, field: str, code: str, detail: str) -> ImportErrorPublic:
    return row_error(row, field.removeprefix("values."), code, detail)


async def _attach_stored(
    session: AsyncSession, ready: list[_Ready], errors: list[ImportErrorPublic]
) -> None:
    by_key = {(r.village.id, r.period): r for r in ready}
    keys = list(by_key)
    for start in range(0, len(keys), CHUNK):
        key = tuple_(Submission.village_id, Submission.period)
        stmt = select(Submission).where(key.in_(keys[start : start + CHUNK]))
        for sub in (await session.execute(stmt)).scalars():
            row = by_key[(sub.village_id, sub.period)]
            row.stored = sub
            if sub.status == "approved":
                errors.append(
                    row_error(
                        row.row,
                        None,
                        "submission_locked",
                        "approved and locked; a reviewer must reopen it",
                    )
                )


def _differs(row: _Ready) -> bool:
    stored = row.stored
    assert stored is not None
    return stored.values != row.values or stored.status != "submitted"


async def _apply(
    session: AsyncSession, *, new: list[_Ready], changed: list[_Ready], actor: Caller
) -> None:
    now = utcnow()
    common = {
        "status": "submitted",
        "submitted_by": actor.username,
        "submitted_at": now,
        "reviewed_by": None,
        "reviewed_at": None,
        "review_comment": None,
    }
    if new:
        rows = [
            {
                "village_id": r.village.id,
                "period": r.period,
                "revision": 1,
                "values": r.values,
                "evidence": [],
                "note": None,
                **common,
            }
            for r in new
        ]
        await session.execute(insert(Submission), rows)
    if changed:
        table = Submission.__table__  # type: ignore[attr-defined]
        stmt = update(table).where(
            table.c.id == bindparam("b_id")
        )  # Core: stored rows stay as read
        params = [
            {"b_id": r.stored.id, "revision": r.stored.revision + 1, "values": r.values, **common}
            for r in changed
            if r.stored
        ]
        await session.execute(
            stmt.values({k: bindparam(k) for k in params[0] if k != "b_id"}), params
        )
    ids = await _ids(session, new + changed)
    await _copy_revisions(session, ids)
    for start in range(0, len(ids), CHUNK):
        await scoring.rescore_submissions(session, ids[start : start + CHUNK])
    _audit(session, new + changed, actor)


async def _ids(session: AsyncSession, rows: list[_Ready]) -> list[int]:
    keys = [(r.village.id, r.period) for r in rows]
    ids: list[int] = []
    for start in range(0, len(keys), CHUNK):
        key = tuple_(Submission.village_id, Submission.period)
        stmt = select(Submission.id).where(key.in_(keys[start : start + CHUNK]))
        ids += list((await session.execute(stmt)).scalars())
    return sorted(ids)


async def _copy_revisions(session: AsyncSession, ids: list[int]) -> None:
    """Each current state becomes a kept revision, copied inside the database."""
    s = Submission
    cols = [
        "submission_id",
        "revision",
        "values",
        "evidence",
        "note",
        "submitted_by",
        "submitted_at",
    ]
    for start in range(0, len(ids), CHUNK):
        current = select(
            s.id, s.revision, s.values, s.evidence, s.note, s.submitted_by, s.submitted_at
        ).where(s.id.in_(ids[start : start + CHUNK]))  # type: ignore[union-attr]
        await session.execute(insert(SubmissionRevision).from_select(cols, current))


def _audit(session: AsyncSession, rows: list[_Ready], actor: Caller) -> None:
    events = []
    for r in rows:
        before = (
            None
            if r.stored is None
            else {
                "status": r.stored.status,
                "revision": r.stored.revision,
                "values": r.stored.values,
            }
        )
        revision = 1 if r.stored is None else r.stored.revision + 1
        events.append(
            AuditEvent(
                actor=actor.username,
                role=actor.role,
                action="submission.import",
                unit_code=r.village.code,
                unit_id=r.village.id,
                province_id=r.village.province_id,
                commune_id=r.village.commune_id,
                period=r.period,
                before=before,
                after={"status": "submitted", "revision": revision, "values": r.values},
                request_id=request_id.get(),
            )
        )
    session.add_all(events)
