"""Scoring a whole nation at once: the pure work in worker processes, the writes by COPY.

`smartvillage rescore` and `generate` score hundreds of thousands of submissions. Each one
is scored and rendered by `scoring.scored_records`, exactly as a single PUT scores it, but
in a pool of processes (one per core) that also encode the rows in COPY's text format; the
process holding the transaction reads keyset batches, hands them out, and forwards what
comes back to COPY in submission order, so reading, scoring and writing overlap.

A full rescore clears the scores, facts and roll-ups and reloads them in the caller's one
transaction, under the exclusive scoring lock (so no writer runs meanwhile): TRUNCATE,
foreign keys and secondary indexes dropped, COPY, then each index built once, each key
validated once and the roll-ups rebuilt in one INSERT … SELECT … GROUP BY. The cost of that
speed: until the commit (~30 s for a nation) reads of scores, rankings and summaries wait
on the tables' locks, as writers wait on the scoring lock; they see either every old score
or every new one, never a mix.
"""

import asyncio
import os
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from multiprocessing import get_context
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Text, cast, delete, text, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from api.core.metrics import RESCORED
from api.services import locks, rollups
from api.services.bulk import (
    Payload,
    copy_payload,
    copy_records,
    create_secondary,
    drop_secondary,
)
from api.services.scoring import (
    FACT_COLUMNS,
    INDICATOR_TABLE,
    SCORE_COLUMNS,
    SCORE_TABLE,
    ScoringRow,
    scored_records,
    scoring_select,
)
from api.services.versions import ActiveVersion, published_versions
from models.base import utcnow
from models.submissions import Submission

BATCH = 5_000  # submissions per task: large enough that a task's overhead is noise
SUBMISSION_ID = col(Submission.id)
SCORED_TABLES = (SCORE_TABLE, INDICATOR_TABLE)
COPY_BOOL = {True: "t", False: "f"}
ScoreTask = Callable[[list[tuple[Any, ...]], datetime], Awaitable["ScoredChunk"]]


@dataclass(frozen=True)
class ScoredChunk:
    """What scoring one batch produced: how many scores, their rows and their facts."""

    count: int
    scores: list[tuple[Any, ...]]  # binary COPY by asyncpg: the ~4 KB bodies go as they are
    facts: Payload


def fact_text(facts: list[tuple[Any, ...]]) -> bytes:
    """Fact records (`FACT_COLUMNS`) in COPY's text format. Codes and periods match their
    patterns (no tab, newline or backslash), so nothing needs escaping; one f-string a row
    is ~1 µs, `copy_text`'s field by field ~5 µs, and a nation has 6.8 M facts."""
    lines = [
        f"{submission}\t{commune}\t{province}\t{period}\t{code}\t{value}\t{COPY_BOOL[passed]}\n"
        for submission, commune, province, period, code, value, passed in facts
    ]
    return "".join(lines).encode()


def score_chunk(
    versions: list[ActiveVersion], rows: list[tuple[Any, ...]], now: datetime, as_text: bool
) -> ScoredChunk:
    """Score a batch of `bulk_select` rows (values as stored JSON text)."""
    scores: list[tuple[Any, ...]] = []
    facts: list[tuple[Any, ...]] = []
    for fields in rows:
        parsed = (*fields[:-1], orjson.loads(fields[-1]))  # the stored JSON text → values
        row = ScoringRow(*parsed)
        records = scored_records(row, versions, now)
        if records is not None:
            scores.append(records[0])
            facts.extend(records[1])
    return ScoredChunk(len(scores), scores, fact_text(facts) if as_text else facts)


_WORKER_VERSIONS: list[ActiveVersion] = []  # each worker's copy, set once at its start


def _start_worker(versions: list[ActiveVersion]) -> None:
    _WORKER_VERSIONS[:] = versions


def _score_in_worker(rows: list[tuple[Any, ...]], now: datetime, as_text: bool) -> ScoredChunk:
    return score_chunk(_WORKER_VERSIONS, rows, now, as_text)


@contextmanager
def scoring_tasks(
    versions: list[ActiveVersion], workers: int, as_text: bool
) -> Iterator[ScoreTask]:
    """A function that scores a batch: in `workers` processes, or here when `workers` < 2."""
    if workers < 2:

        async def here(rows: list[tuple[Any, ...]], now: datetime) -> ScoredChunk:
            return score_chunk(versions, rows, now, as_text)

        yield here
        return
    context = get_context("fork")  # the workers need no imports of their own: starts in ms
    with ProcessPoolExecutor(workers, context, _start_worker, (versions,)) as pool:

        def run(rows: list[tuple[Any, ...]], now: datetime) -> Awaitable[ScoredChunk]:
            return asyncio.wrap_future(pool.submit(_score_in_worker, rows, now, as_text))

        yield run


def bulk_select() -> Any:
    """`scoring_select` with the values as their stored JSON text (workers parse them)."""
    stmt = scoring_select()
    return stmt.with_only_columns(
        *list(stmt.selected_columns)[:-1], cast(col(Submission.values), Text)
    )


async def _write(session: AsyncSession, chunk: ScoredChunk) -> int:
    await copy_records(session, SCORE_TABLE, SCORE_COLUMNS, chunk.scores)
    await copy_payload(session, INDICATOR_TABLE, FACT_COLUMNS, chunk.facts)
    return chunk.count


async def _batches(session: AsyncSession, stmt: Any) -> AsyncIterator[list[tuple[Any, ...]]]:
    """The rows of `stmt` (limited to a batch, first column the id) in keyset batches."""
    last_id = 0
    while rows := [tuple(r) for r in await session.execute(stmt.where(last_id < SUBMISSION_ID))]:
        yield rows
        last_id = rows[-1][0]


async def score_new(session: AsyncSession, where: ColumnElement[bool]) -> int:
    """Score submissions that have no score yet (`generate`), with the tables' foreign keys
    and secondary indexes made again once after the load, under the exclusive scoring lock;
    the caller rebuilds the roll-ups of their communes (`rollups.rebuild`)."""
    await locks.scoring_lock(session, exclusive=True)
    recreate = await drop_secondary(session, SCORED_TABLES)
    await tune_for_bulk(session)
    total = await score_all(session, where)
    await create_secondary(session, recreate)
    return total


async def score_all(
    session: AsyncSession,
    where: ColumnElement[bool],
    *,
    batch: int = BATCH,
    workers: int | None = None,
) -> int:
    """Score every submission matching `where` that has no stored score yet, and store
    the scores and facts (not the roll-ups: see `rollups.rebuild`). Returns how many."""
    versions = await published_versions(session)
    as_text = (await session.connection()).dialect.name == "postgresql"
    workers = workers or os.cpu_count() or 1
    stmt = bulk_select().where(where).order_by(SUBMISSION_ID).limit(batch)
    pending: deque[Awaitable[ScoredChunk]] = deque()
    total = 0
    with scoring_tasks(versions, workers, as_text) as task:
        async for rows in _batches(session, stmt):
            pending.append(task(rows, utcnow()))
            if len(pending) > workers:  # one batch queued per worker beyond the running ones
                total += await _write(session, await pending.popleft())
        while pending:
            total += await _write(session, await pending.popleft())
    RESCORED.inc(total)
    return total


async def rescore_everything(
    session: AsyncSession,
    *,
    batch: int = BATCH,
    workers: int | None = None,
    seconds: dict[str, float] | None = None,
) -> int:
    """Rescore every submission (`smartvillage rescore`) in the caller's transaction, with
    writers queued behind the exclusive scoring lock: clear, reload, rebuild the roll-ups.
    `seconds`, when given, receives the time each of those phases took."""
    phases = seconds if seconds is not None else {}
    async with _phase(phases, "lock"):
        await locks.scoring_lock(session, exclusive=True)
    async with _phase(phases, "clear"):
        await clear_scores(session)
        recreate = await drop_secondary(session, SCORED_TABLES)
    async with _phase(phases, "score_and_copy"):
        total = await score_all(session, true(), batch=batch, workers=workers)
    async with _phase(phases, "indexes"):
        await create_secondary(session, recreate)
    async with _phase(phases, "rollups"):
        await rollups.rebuild(session)
    async with _phase(phases, "analyze"):
        await analyze_scores(session)
    return total


async def clear_scores(session: AsyncSession) -> None:
    """Remove every score, fact and roll-up: TRUNCATE on PostgreSQL (readers of these
    tables wait for the commit, as writers do behind the lock), DELETE elsewhere."""
    tables = (rollups.ROLLUP, *reversed(SCORED_TABLES))
    if (await session.connection()).dialect.name == "postgresql":
        await session.execute(text(f"TRUNCATE {', '.join(t.name for t in tables)}"))
        await tune_for_bulk(session)
        return
    for table in tables:
        await session.execute(delete(table))


async def analyze_scores(session: AsyncSession) -> None:
    """Refresh PostgreSQL's planner statistics of the reloaded tables."""
    if (await session.connection()).dialect.name == "postgresql":
        await session.execute(text("ANALYZE score, score_indicator, indicator_rollup"))


@asynccontextmanager
async def _phase(seconds: dict[str, float], name: str) -> AsyncIterator[None]:
    start = time.perf_counter()
    yield
    seconds[name] = round(time.perf_counter() - start, 3)


async def tune_for_bulk(session: AsyncSession) -> None:
    """Settings for this transaction only (PostgreSQL): compress the stored bodies with lz4
    rather than pglz (~4 KB each, 1.4 GB for a nation; reads decompress either), and give
    the roll-up GROUP BY and the foreign-key validations of 6.8 M facts memory to hash and
    sort in (the 4 MB default spills them to disk)."""
    if (await session.connection()).dialect.name == "postgresql":
        await session.execute(text("SET LOCAL default_toast_compression = 'lz4'"))
        await session.execute(text("SET LOCAL work_mem = '256MB'"))
