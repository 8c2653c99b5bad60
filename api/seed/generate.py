"""A synthetic nation for load tests: units, quarterly submissions, revisions and scores.

Everything is written set-based (COPY on PostgreSQL) in one transaction after the reference
criteria set is published; scores come from `bulk_scoring.score_new` (the engine in a pool
of processes, exactly as a PUT scores), never row by row here, and the new communes'
roll-ups from one INSERT … SELECT … GROUP BY.
"""

import math
import random
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import ColumnElement, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.problems import Conflict, Unprocessable
from api.services import rollups
from api.services.bulk import bulk_insert
from api.services.bulk_scoring import score_new
from api.services.criteria_sets import load_and_publish
from criteria.document import parse_document
from criteria.loader import REFERENCE_SET, load_document_file
from criteria.periods import VN_TZ, Period, today_vn
from criteria.schema import CriteriaDocument
from criteria.text import fold, nfc
from models.base import table_of, utcnow
from models.submissions import Submission, SubmissionRevision
from models.units import Unit

UNIT = table_of(Unit)
SUBMISSION = table_of(Submission)
REVISION = table_of(SubmissionRevision)
CHUNK = 20_000  # rows per COPY / executemany: bounds memory, keeps round trips few
SUBMITTED_BY = "generator"
MISSING_SHARE = 0.10  # villages that skip a given period
SYLLABLES = (
    "An", "Bình", "Hòa", "Phú", "Tân", "Yên", "Quảng", "Hưng", "Long", "Thạnh", "Đông",
    "Tây", "Nam", "Bắc", "Trung", "Hải", "Sơn", "Lạc", "Thuận", "Phước", "Gia", "Vĩnh",
    "Kim", "Minh", "Thanh", "Đức", "Mỹ", "Hà", "Lâm", "Cẩm", "Xuân", "Thủy", "Định", "Lộc",
)  # fmt: skip
# Denominators as multiples of a village's households (criteria-facts §d: 3.5 people a
# household); anything unknown scales like households.
SCALE = {
    "households_total": 1.0,
    "residents_total": 3.5,
    "residents_working_age": 2.3,
    "adults_total": 2.6,
    "outlets_total": 0.05,
}


@dataclass
class GenerateReport:
    """Rows written and seconds spent per phase."""

    provinces: int = 0
    communes: int = 0
    villages: int = 0
    submissions: int = 0
    revisions: int = 0
    scores: int = 0
    periods: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def total_seconds(self) -> float:
        """Wall time over all phases."""
        return sum(self.seconds.values())


@dataclass(frozen=True)
class ValuePlan:
    """What to draw for each measure of a criteria document."""

    bases: tuple[tuple[str, float], ...]  # denominators: measure, households multiple
    ratios: tuple[tuple[str, str, float, int], ...]  # numerator, denominator, target %, sign
    flags: tuple[str, ...]  # booleans that should be true
    counts: tuple[tuple[str, float, bool], ...]  # measure, target, is integer


def value_plan(doc: CriteriaDocument) -> ValuePlan:
    """Derive the draws from the document's indicators (targets) and measures (max_ref)."""
    ratios: dict[str, tuple[str, str, float, int]] = {}
    valued: dict[str, float] = {}
    for crit in doc.criteria:
        for ind in crit.indicators:
            sign = -1 if ind.target.op == "<=" else 1
            if ind.kind == "ratio" and ind.numerator and ind.denominator:
                target = float(ind.target.value)
                ratios[ind.numerator] = (ind.numerator, ind.denominator, target, sign)
            elif ind.measure:
                valued[ind.measure] = float(ind.target.value)
    for m in doc.measures:
        if m.max_ref and m.code not in ratios:
            ratios[m.code] = (m.code, m.max_ref, 50.0, 1)
    denominators = {den for _, den, _, _ in ratios.values()}
    kinds = {m.code: m.type for m in doc.measures}
    plain = [c for c in kinds if c not in ratios and c not in denominators]
    return ValuePlan(
        bases=tuple((c, SCALE.get(c, 1.0)) for c in kinds if c in denominators),
        ratios=tuple(ratios.values()),
        flags=tuple(c for c in plain if kinds[c] == "boolean"),
        counts=tuple(
            (c, valued.get(c, 1.0), kinds[c] == "integer") for c in plain if kinds[c] != "boolean"
        ),
    )


def draw_values(
    rng: random.Random, plan: ValuePlan, households: int, shift: float, spread: float
) -> dict[str, Any]:
    """One submission's values: ratios spread around their targets by the village's `shift`.

    `shift` (percentage points) is the village's maturity plus its progress over time, so a
    village that passes one indicator tends to pass the others; `spread` (0-1) fixes its
    people per household. Numerators never exceed their denominators (`max_ref`).
    """
    gauss, values = rng.gauss, dict[str, Any]()
    for i, (code, scale) in enumerate(plan.bases):
        # a stable per-village factor, so residents do not jump from quarter to quarter
        factor = 1.0 if scale == 1.0 else 0.85 + 0.3 * ((spread + 0.618 * i) % 1.0)
        values[code] = round(households * scale * factor)
    for num, den, target, sign in plan.ratios:
        share = min(100.0, max(0.0, target + sign * (shift + gauss(0.0, 6.0))))
        values[num] = round(values[den] * share / 100)
    p_true = min(0.98, max(0.05, 0.75 + shift / 50))
    for code in plan.flags:
        values[code] = rng.random() < p_true
    for code, target, integral in plan.counts:
        mean = max(target * 1.6, target + 0.5) + shift / 8
        drawn = max(0.0, gauss(mean, max(1.0, 0.4 * target)))
        values[code] = round(drawn) if integral else round(drawn, 2)
    return values


def households(rng: random.Random) -> int:
    """Households in a thôn: log-normal, median about 235, mean about 250, clamped 80-900."""
    return min(900, max(80, round(rng.lognormvariate(math.log(235), 0.45))))


@lru_cache(maxsize=4096)
def _names(name: str) -> tuple[str, str]:
    clean = nfc(name)
    return clean, fold(clean)


def _name(rng: random.Random, prefix: str, number: int | None = None) -> str:
    first, second = rng.sample(SYLLABLES, 2)
    return f"{prefix} {first} {second}" if number is None else f"{prefix} {first} {number}"


def unit_row(code: str, name: str, level: str, where: tuple[float, float]) -> dict[str, Any]:
    """A unit row with NFC name, folded search key and no parents (the caller adds them)."""
    clean, folded = _names(name)
    return {
        "code": code,
        "name": clean,
        "name_folded": folded,
        "level": level,
        "parent_id": None,
        "province_id": None,
        "commune_id": None,
        "lat": round(where[0], 5),
        "lon": round(where[1], 5),
        "created_at": utcnow(),
    }


def free_codes(used: set[str], width: int, count: int, level: str) -> list[str]:
    """The first `count` unused codes of `width` digits (01-99, 00001-99999), or 409."""
    taken_prefixes = {code.split("-", 1)[0] for code in used if "-" in code}
    free = []
    for n in range(1, 10**width):
        code = f"{n:0{width}d}"
        if code not in used and code not in taken_prefixes:
            free.append(code)
            if len(free) == count:
                return free
    raise Conflict(
        f"Only {len(free)} free {level} codes of {width} digits are left; {count} were asked for."
    )


def quarters(count: int) -> list[str]:
    """The last `count` quarters, oldest first, ending with the current one (Vietnam time)."""
    today = today_vn()
    index = today.year * 4 + (today.month - 1) // 3
    return [f"{i // 4}Q{i % 4 + 1}" for i in range(index - count + 1, index + 1)]


async def _is_postgres(session: AsyncSession) -> bool:
    return (await session.connection()).dialect.name == "postgresql"


@asynccontextmanager
async def _phase(report: GenerateReport, name: str) -> AsyncIterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        report.seconds[name] = round(time.perf_counter() - start, 3)


async def _ids(session: AsyncSession, level: str, province_ids: list[int]) -> dict[str, int]:
    stmt = select(UNIT.c.code, UNIT.c.id).where(
        UNIT.c.level == level, UNIT.c.province_id.in_(province_ids)
    )
    rows = await session.execute(stmt)
    return dict(rows.all())


async def insert_provinces(
    session: AsyncSession, rng: random.Random, codes: list[str]
) -> dict[str, tuple[int, tuple[float, float]]]:
    """Insert provinces; returns code → (id, centre)."""
    centres = {c: (rng.uniform(9.0, 22.5), rng.uniform(103.0, 109.0)) for c in codes}
    rows = [unit_row(c, _name(rng, "Tỉnh"), "province", centres[c]) for c in codes]
    await bulk_insert(session, UNIT, rows)
    stmt = select(UNIT.c.code, UNIT.c.id).where(UNIT.c.code.in_(codes))
    ids: dict[str, int] = dict((await session.execute(stmt)).all())
    return {c: (ids[c], centres[c]) for c in codes}


async def insert_communes(
    session: AsyncSession,
    rng: random.Random,
    provinces: dict[str, tuple[int, tuple[float, float]]],
    codes: list[str],
) -> dict[str, tuple[int, int, tuple[float, float]]]:
    """Insert communes evenly over the provinces; returns code → (id, province id, where)."""
    per = len(codes) // len(provinces)
    placed: dict[str, tuple[int, tuple[float, float]]] = {}
    for i, (pid, (lat, lon)) in enumerate(provinces.values()):
        for code in codes[i * per : (i + 1) * per]:
            placed[code] = (pid, (lat + rng.uniform(-0.4, 0.4), lon + rng.uniform(-0.4, 0.4)))
    rows = []
    for code, (pid, where) in placed.items():
        row = unit_row(code, _name(rng, "Xã"), "commune", where)
        rows.append({**row, "parent_id": pid, "province_id": pid})
    for start in range(0, len(rows), CHUNK):
        await bulk_insert(session, UNIT, rows[start : start + CHUNK])
    ids = await _ids(session, "commune", [pid for pid, _ in provinces.values()])
    return {code: (ids[code], pid, where) for code, (pid, where) in placed.items()}


def _village_rows(
    rng: random.Random, communes: dict[str, tuple[int, int, tuple[float, float]]], per: int
) -> Iterator[tuple[dict[str, Any], tuple[int, float, float]]]:
    width = max(2, len(str(per)))
    for code, (cid, pid, (lat, lon)) in communes.items():
        for n in range(1, per + 1):
            where = (lat + rng.uniform(-0.05, 0.05), lon + rng.uniform(-0.05, 0.05))
            row = unit_row(f"{code}-{n:0{width}d}", _name(rng, "Thôn", n), "village", where)
            row.update(parent_id=cid, commune_id=cid, province_id=pid)
            yield row, (households(rng), rng.gauss(0.0, 8.0), rng.random())


async def insert_villages(
    session: AsyncSession,
    rng: random.Random,
    communes: dict[str, tuple[int, int, tuple[float, float]]],
    per: int,
) -> list[tuple[int, int, float, float]]:
    """Insert villages; returns (id, households, maturity, spread) per village, by id."""
    profiles: dict[str, tuple[int, float, float]] = {}
    rows: list[dict[str, Any]] = []
    for row, profile in _village_rows(rng, communes, per):
        rows.append(row)
        profiles[row["code"]] = profile
        if len(rows) == CHUNK:
            await bulk_insert(session, UNIT, rows)
            rows = []
    await bulk_insert(session, UNIT, rows)
    ids = await _ids(session, "village", sorted({pid for _, pid, _ in communes.values()}))
    return sorted((vid, *profiles[code]) for code, vid in ids.items())


def _submitted_at(period: str) -> datetime:
    """Late afternoon (Vietnam) on the period's last day, or now for the current quarter."""
    end = datetime.combine(Period.parse(period).end, clock(17), tzinfo=VN_TZ)
    return min(end.astimezone(UTC), utcnow())


async def insert_submissions(
    session: AsyncSession,
    rng: random.Random,
    plan: ValuePlan,
    villages: list[tuple[int, int, float, float]],
    periods: list[str],
) -> int:
    """Insert one submitted revision-1 submission per village-period (some skipped)."""
    postgres = await _is_postgres(session)
    ends = [_submitted_at(p) for p in periods]
    rows: list[dict[str, Any]] = []
    total = 0
    for vid, size, maturity, spread in villages:
        for k, period in enumerate(periods):
            if rng.random() < MISSING_SHARE:
                continue
            values = draw_values(rng, plan, size + 2 * k, maturity + 2.0 * k, spread)
            rows.append({
                "village_id": vid, "period": period, "revision": 1, "status": "submitted",
                "values": orjson.dumps(values).decode() if postgres else values,
                "evidence": "[]" if postgres else [], "submitted_by": SUBMITTED_BY,
                "submitted_at": ends[k] - timedelta(minutes=rng.randrange(20 * 24 * 60)),
            })  # fmt: skip
        if len(rows) >= CHUNK:
            total += len(rows)
            await bulk_insert(session, SUBMISSION, rows)
            rows = []
    await bulk_insert(session, SUBMISSION, rows)
    return total + len(rows)


async def copy_revisions(session: AsyncSession, new: ColumnElement[bool]) -> int:
    """Revision 1 of every new submission, copied inside the database (INSERT … SELECT)."""
    columns = ["revision", "values", "evidence", "note", "submitted_by", "submitted_at"]
    source = select(SUBMISSION.c.id, *(SUBMISSION.c[c] for c in columns)).where(new)
    stmt = insert(REVISION).from_select(["submission_id", *columns], source)
    result = await session.execute(stmt)
    # Result[Any] does not declare rowcount; a DML result (CursorResult) has it.
    return int(result.rowcount)  # type: ignore[attr-defined]


async def analyze(session: AsyncSession) -> None:
    """Refresh PostgreSQL's planner statistics for the tables the generator fills."""
    if await _is_postgres(session):
        await session.execute(
            text("ANALYZE unit, submission, submission_revision, score, score_indicator")
        )


async def ensure_reference_set(session: AsyncSession) -> CriteriaDocument:
    """Publish the bundled reference set unless it already is (commits if it publishes)."""
    data = load_document_file(REFERENCE_SET)
    await load_and_publish(session, data=data)
    return parse_document(data)


async def _new_units(
    session: AsyncSession, rng: random.Random, report: GenerateReport, sizes: tuple[int, int, int]
) -> tuple[list[int], list[tuple[int, int, float, float]]]:
    used = set((await session.execute(select(UNIT.c.code))).scalars())
    province_codes = free_codes(used, 2, sizes[0], "province")
    commune_codes = free_codes(used, 5, sizes[0] * sizes[1], "commune")
    provinces = await insert_provinces(session, rng, province_codes)
    communes = await insert_communes(session, rng, provinces, commune_codes)
    villages = await insert_villages(session, rng, communes, sizes[2])
    report.provinces, report.communes, report.villages = (
        len(provinces),
        len(communes),
        len(villages),
    )
    return [pid for pid, _ in provinces.values()], villages


async def generate(
    session: AsyncSession,
    *,
    provinces: int,
    communes_per_province: int,
    villages_per_commune: int,
    periods: int,
    seed: int = 1,
) -> GenerateReport:
    """Create and score a synthetic nation in one transaction; returns counts and timings."""
    if min(provinces, communes_per_province, villages_per_commune, periods) < 1:
        raise Unprocessable("Every size of a synthetic nation must be at least 1.")
    rng, report = random.Random(seed), GenerateReport(periods=quarters(periods))
    async with _phase(report, "criteria_set"):
        plan = value_plan(await ensure_reference_set(session))
    async with _phase(report, "units"):
        sizes = (provinces, communes_per_province, villages_per_commune)
        province_ids, villages = await _new_units(session, rng, report, sizes)
    async with _phase(report, "submissions"):
        first = int(await session.scalar(select(func.coalesce(func.max(Submission.id), 0))) or 0)
        report.submissions = await insert_submissions(session, rng, plan, villages, report.periods)
        await analyze(session)  # counts this transaction's rows: the planner needs the sizes
    in_new = select(UNIT.c.id).where(UNIT.c.province_id.in_(province_ids))
    new = (SUBMISSION.c.id > first) & SUBMISSION.c.village_id.in_(in_new)
    async with _phase(report, "revisions"):
        report.revisions = await copy_revisions(session, new)
    async with _phase(report, "scoring"):
        report.scores = await score_new(session, new)
        await rollups.rebuild(session, where=rollups.FACTS.c.province_id.in_(province_ids))
    async with _phase(report, "commit"):
        await session.commit()
    async with _phase(report, "analyze"):
        await analyze(session)
        await session.commit()
    return report
