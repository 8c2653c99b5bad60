"""Bulk submissions: every row validated first, then all applied in one transaction, or none.

A row is refused when its village is unknown or outside the caller's scope, its period is
malformed, future or has no criteria set in force, a value is bad (named by measure), the
same village-period appears twice, or the stored submission is approved (locked).

The file is read twice, a chunk at a time, so memory follows a chunk, not the file: pass 1
validates and counts (a dry run stops there); pass 2 takes the lock order of
`api.services.locks` (the scoring lock, then the stored rows pass 1 found, in id order),
validates each chunk again against the locked state, and writes it.
"""

import asyncio
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Row, bindparam, insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.caller import Caller
from api.core.problems import ProblemError
from api.core.request_context import request_id
from api.services import scoring
from api.services.import_common import (
    FileProblem,
    ImportBody,
    RowLog,
    body_kind,
    file_rejected,
    rejected,
    row_error,
)
from api.services.locks import scoring_lock
from api.services.submission_rows import Item, TooLong, read_items, take, typed_values
from api.services.submissions import check_version, clean_or_422
from api.services.versions import ActiveVersion, published_versions
from criteria.periods import Period
from models.audit import AuditEvent
from models.base import table_of, utcnow
from models.imports import ImportErrorPublic, ImportReportPublic
from models.submissions import Submission, SubmissionRevision
from models.units import Unit

LOCKED = "approved and locked; a reviewer must reopen it"
_s = table_of(Submission)


@dataclass
class _Village:
    id: int | None
    code: str
    province_id: int | None
    commune_id: int | None
    province_code: str


@dataclass
class _Ready:
    """A valid row, resolved: its village, period and values."""

    row: int
    village: _Village
    period: str
    values: dict[str, Any]

    @property
    def key(self) -> tuple[int | None, str]:
        return (self.village.id, self.period)


@dataclass
class _Pass:
    """What one reading of the file found: errors, counts, and small per-row facts."""

    versions: list[ActiveVersion]
    log: RowLog = field(default_factory=RowLog)
    seen: dict[str, int] = field(default_factory=dict)
    existing: dict[int, int] = field(default_factory=dict)
    counts: list[int] = field(default_factory=lambda: [0, 0, 0])

    def report(self, dry_run: bool) -> ImportReportPublic:
        created, updated, unchanged = self.counts
        return ImportReportPublic(dry_run=dry_run, rows=self.log.rows, created=created,
                                  updated=updated, unchanged=unchanged, errors=[])  # fmt: skip


async def import_submissions(
    session: AsyncSession, *, body: ImportBody, dry_run: bool, actor: Caller
) -> ImportReportPublic:
    """Create or revise many submissions from CSV or JSON, all or nothing (422 lists rows)."""
    kind = body_kind(body)
    try:
        checked = await _read(session, kind, body, actor, write=False)
        if checked.log.count or dry_run:
            return _answer(checked, dry_run)
        await scoring_lock(session)
        await _lock_stored(session, checked)
        written = await _read(session, kind, body, actor, write=True)
    except FileProblem as exc:
        await session.rollback()
        raise file_rejected(dry_run, exc) from None
    if written.log.count:
        await session.rollback()
    report = _answer(written, dry_run)
    await session.commit()
    return report


def _answer(found: _Pass, dry_run: bool) -> ImportReportPublic:
    if found.log.count:
        raise rejected(dry_run, found.log)
    return found.report(dry_run)


async def _read(
    session: AsyncSession, kind: str, body: ImportBody, actor: Caller, *, write: bool
) -> _Pass:
    """One pass over the file, CHUNK rows at a time; with `write`, each chunk is stored
    (until the first error: the caller then rolls back)."""
    found = _Pass(await published_versions(session))
    with closing(read_items(kind, body, found.log)) as items:
        while chunk := await asyncio.to_thread(take, items):
            ready = await _resolve(session, chunk, actor, found)
            stored = await _stored(session, ready, lock=write)
            _classify(ready, stored, found)
            if write and not found.log.count:
                await _apply(session, ready, stored, actor)
    return found


async def _villages(session: AsyncSession, codes: set[str]) -> dict[str, _Village]:
    u = table_of(Unit)
    province = u.alias("province")
    stmt = (
        select(u.c.id, u.c.code, u.c.province_id, u.c.commune_id, province.c.code)
        .join(province, province.c.id == u.c.province_id)
        .where(u.c.code.in_(sorted(codes)), u.c.level == "village")
    )
    return {r[1]: _Village(*r) for r in (await session.execute(stmt)).all()}


async def _resolve(
    session: AsyncSession, chunk: list[Item], actor: Caller, found: _Pass
) -> list[_Ready]:
    villages = await _villages(session, {i.village_code for i in chunk})
    ready: list[_Ready] = []
    for item in chunk:
        village = villages.get(item.village_code)
        error = _place_error(item, village, actor)
        if error is None and village is not None:
            error, result = _checked(item, village, found)
            if result is not None:
                ready.append(result)
                continue
        # Without a result the checks above always gave an error (mypy cannot follow it).
        found.log.add(error)  # type: ignore[arg-type]
    return ready


def _place_error(item: Item, village: _Village | None, actor: Caller) -> ImportErrorPublic | None:
    if village is None:
        message = f"no village {item.village_code!r}"
        return row_error(item.row, "village_code", "unknown_village", message)
    if not actor.covers(village):
        return row_error(item.row, "village_code", "out_of_scope", "outside your unit")
    return None


def _checked(
    item: Item, village: _Village, found: _Pass
) -> tuple[ImportErrorPublic | None, _Ready | None]:
    """The row's period and values checked (first error only), and no earlier duplicate."""
    try:
        period = Period.parse(item.period_text)
        version = check_version(found.versions, village.province_code, item.village_code, period)
        values = clean_or_422(version, typed_values(version, item.values))
    except TooLong as exc:
        message = f"{exc.args[0]!r} has too many digits to be read"
        return row_error(item.row, exc.args[0], "number_too_large", message), None
    except ValueError as exc:
        return row_error(item.row, "period", "invalid_period", str(exc)), None
    except ProblemError as exc:
        first, *others = [_from_field(item.row, e.field, e.code, e.detail) for e in exc.errors]
        for other in others:
            found.log.add(other)
        return first, None
    key = f"{village.id}|{period}"
    if key in found.seen:
        message = f"same village and period as row {found.seen[key]}"
        return row_error(item.row, "period", "duplicate_row", message), None
    found.seen[key] = item.row
    return None, _Ready(item.row, village, str(period), values)


def _from_field(row: int, field: str, code: str, detail: str) -> ImportErrorPublic:
    return row_error(row, field.removeprefix("values."), code, detail)


async def _stored(
    session: AsyncSession, ready: list[_Ready], *, lock: bool
) -> dict[tuple[int | None, str], Row[Any]]:
    """The stored submissions of these rows (locked, in id order, when writing)."""
    if not ready:
        return {}
    key = tuple_(_s.c.village_id, _s.c.period)
    columns = (_s.c[n] for n in ("id", "village_id", "period", "status", "revision", "values"))
    stmt = select(*columns).where(key.in_([r.key for r in ready]))
    if lock:
        stmt = stmt.order_by(_s.c.id).with_for_update()
    rows: list[Row[Any]] = list((await session.execute(stmt)).all())
    return {(s.village_id, s.period): s for s in rows}


def _classify(ready: list[_Ready], stored: dict[Any, Row[Any]], found: _Pass) -> None:
    """Count created / updated / unchanged; a stored approved submission is a row error."""
    for r in ready:
        current = stored.get(r.key)
        if current is None:
            found.counts[0] += 1
        elif current.status == "approved":
            found.log.add(row_error(r.row, None, "submission_locked", LOCKED))
        else:
            found.existing[current.id] = r.row
            found.counts[1 if _differs(r, current) else 2] += 1


def _differs(row: _Ready, stored: Row[Any]) -> bool:
    return bool(stored.values != row.values or stored.status != "submitted")


async def _lock_stored(session: AsyncSession, checked: _Pass) -> None:
    """Lock the stored submissions pass 1 found, in id order, and refuse (422) any that
    was approved since: the scoring lock is held, so no approval can slip in after this."""
    ids = sorted(checked.existing)
    for start in range(0, len(ids), 1000):
        stmt = (
            select(_s.c.id, _s.c.status)
            .where(_s.c.id.in_(ids[start : start + 1000]))
            .order_by(_s.c.id)
            .with_for_update()
        )
        for sub in (await session.execute(stmt)).all():
            if sub.status == "approved":
                checked.log.add(row_error(checked.existing[sub.id], None, "submission_locked",
                                          LOCKED))  # fmt: skip
    if checked.log.count:
        await session.rollback()
        raise rejected(False, checked.log)


async def _apply(
    session: AsyncSession, ready: list[_Ready], stored: dict[Any, Row[Any]], actor: Caller
) -> None:
    """Write one chunk: insert the new, revise the changed, keep revisions, rescore, audit."""
    new = [r for r in ready if r.key not in stored]
    changed = [r for r in ready if r.key in stored and _differs(r, stored[r.key])]
    if not new and not changed:
        return
    common: dict[str, Any] = {
        "status": "submitted",
        "submitted_by": actor.username,
        "submitted_at": utcnow(),
        "reviewed_by": None,
        "reviewed_at": None,
        "review_comment": None,
    }
    if new:
        first = {"revision": 1, "evidence": [], "note": None, **common}
        rows = [{"village_id": r.village.id, "period": r.period, "values": r.values, **first}
                for r in new]  # fmt: skip
        await session.execute(insert(_s), rows)
    if changed:
        await _revise(session, changed, stored, common)
    ids = await _ids(session, new + changed)
    await _copy_revisions(session, ids)
    await scoring.rescore_submissions(session, ids)
    await _audit(session, new + changed, stored, actor)


async def _revise(
    session: AsyncSession, rows: list[_Ready], stored: dict[Any, Row[Any]], common: dict[str, Any]
) -> None:
    """Executemany UPDATE: each stored submission gets the row's values, one revision on."""
    params = [
        {"b_id": stored[r.key].id, "revision": stored[r.key].revision + 1, "values": r.values}
        | common
        for r in rows
    ]
    columns: dict[str, Any] = {k: bindparam(k) for k in params[0] if k != "b_id"}
    await session.execute(update(_s).where(_s.c.id == bindparam("b_id")).values(columns), params)


async def _ids(session: AsyncSession, rows: list[_Ready]) -> list[int]:
    key = tuple_(_s.c.village_id, _s.c.period)
    stmt = select(_s.c.id).where(key.in_([r.key for r in rows]))
    return sorted((await session.execute(stmt)).scalars())


async def _copy_revisions(session: AsyncSession, ids: list[int]) -> None:
    """Each current state becomes a kept revision, copied inside the database."""
    names = ["id", "revision", "values", "evidence", "note", "submitted_by", "submitted_at"]
    current = select(*(_s.c[n] for n in names)).where(_s.c.id.in_(ids))
    columns = ["submission_id", *names[1:]]
    await session.execute(insert(SubmissionRevision).from_select(columns, current))


async def _audit(
    session: AsyncSession, rows: list[_Ready], stored: dict[Any, Row[Any]], actor: Caller
) -> None:
    """One event per row; `before` is the locked state this import replaced."""
    events = []
    for r in rows:
        old = stored.get(r.key)
        before = None if old is None else {"status": old.status, "revision": old.revision,
                                           "values": old.values}  # fmt: skip
        revision = 1 if old is None else old.revision + 1
        events.append({
            "at": utcnow(), "actor": actor.username, "role": actor.role,
            "action": "submission.import", "unit_code": r.village.code,
            "unit_id": r.village.id, "province_id": r.village.province_id,
            "commune_id": r.village.commune_id, "period": r.period, "before": before,
            "after": {"status": "submitted", "revision": revision, "values": r.values},
            "request_id": request_id.get(),
        })  # fmt: skip
    await session.execute(insert(table_of(AuditEvent)), events)
