"""A whole-nation rescore (`bulk_scoring`: clear, reload through worker processes, rebuild
the roll-ups) stores exactly what scoring the submissions one by one through the API stored:
the same score rows, bodies (but for the time they were computed), ETags of those bodies,
indicator facts and roll-ups — and so does `generate`, against the per-submission path."""

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.etags import etag_for
from api.infra.db import engine_for, make_sessionmaker
from api.infra.settings import Settings
from api.seed.generate import draw_values, generate, value_plan
from api.services.bulk_scoring import rescore_everything
from api.services.scoring import rescore_submissions
from criteria.document import parse_document
from models.submissions import Submission
from tests.api.conftest import V, ha_nam_values, lao_cai_document, publish, put_values

VILLAGES = ("37-13402-DONG", "37-13402-BAC", "37-13393-01")
SCORE_COLUMNS = (
    "submission_id, village_id, commune_id, province_id, village_code, period, "
    "criteria_set_version_id, status, score, submission_revision, submission_status, "
    "computed_at, body, etag"
)


def _run(settings: Settings, work: Callable[[AsyncSession], Awaitable[Any]]) -> Any:
    """Run a service call in its own session and event loop, then commit (as the CLI does)."""

    async def go() -> Any:
        engine = engine_for(settings, batch=True)
        try:
            async with make_sessionmaker(engine)() as session:
                result = await work(session)
                await session.commit()
                return result
        finally:
            await engine.dispose()

    return asyncio.run(go())


def _scores(db: Engine) -> dict[int, dict[str, Any]]:
    """Every stored score by submission, its body parsed, computed_at checked and set aside."""
    with db.connect() as conn:
        rows = conn.execute(text(f"SELECT {SCORE_COLUMNS} FROM score")).mappings().all()
    scores = {}
    for row in rows:
        stored = dict(row)
        body = bytes(stored.pop("body"))
        assert stored.pop("etag") == etag_for(body)
        parsed = orjson.loads(body)
        parsed.pop("computed_at")
        stored.pop("computed_at")
        scores[stored["submission_id"]] = {**stored, "body": parsed}
    return scores


def _exact(value: Any) -> Any:
    """A stored number as its column's 4 decimals: SQLite keeps NUMERIC sums as floats, so
    adding and subtracting increments (the per-submission path) leaves float noise."""
    return round(value, 4) if isinstance(value, float) else value


def _table(db: Engine, table: str, key: str) -> list[tuple[Any, ...]]:
    with db.connect() as conn:
        rows = conn.execute(text(f"SELECT * FROM {table} ORDER BY {key}"))
        return [tuple(_exact(value) for value in row) for row in rows]


def _snapshot(db: Engine) -> dict[str, Any]:
    return {
        "scores": _scores(db),
        "facts": _table(db, "score_indicator", "submission_id, indicator_code"),
        "rollups": _table(db, "indicator_rollup", "commune_id, period, indicator_code"),
    }


def _put_a_province(client: TestClient, reviewer: dict[str, str]) -> None:
    """Submissions of every kind: passing, failing, partly missing, approved, revised."""
    publish(client, lao_cai_document())
    for n, village in enumerate(VILLAGES):
        for period in ("2025Q4", "2026Q1", "2026Q2"):
            values = ha_nam_values() | {"households_with_fibre": 120 + 9 * n}
            if period == "2026Q2" and n == 1:
                values = {k: v for k, v in values.items() if "fibre" not in k}
            assert put_values(client, village, period, values).status_code in (200, 201)
    lao_cai = value_plan(parse_document(lao_cai_document()))
    for shift, period in ((-10.0, "2025"), (10.0, "2026")):
        values = draw_values(random.Random(3), lao_cai, 200, shift, 0.5)
        assert put_values(client, "15-04000-01", period, values).status_code == 201
    put_values(client, VILLAGES[0], "2026Q1", ha_nam_values())  # a second revision
    approve = f"{V}/villages/{VILLAGES[2]}/submissions/2026Q1/approve"
    assert client.post(approve, headers=reviewer).status_code == 200


@pytest.mark.usefixtures("tree", "reference")
@pytest.mark.parametrize("workers", [1, 2], ids=["in-process", "two-workers"])
def test_a_full_rescore_stores_what_the_api_stored(
    client: TestClient, reviewer: dict[str, str], db: Engine, settings: Settings, workers: int
) -> None:
    _put_a_province(client, reviewer)
    before = _snapshot(db)
    assert len(before["scores"]) >= 10
    assert before["facts"]
    assert before["rollups"]
    count = _run(settings, lambda s: rescore_everything(s, workers=workers, batch=4))
    assert count == len(before["scores"])
    assert _snapshot(db) == before
    again = client.get(f"{V}/villages/{VILLAGES[0]}/score", params={"period": "2026Q1"})
    assert again.status_code == 200
    assert again.json()["submission"]["revision"] == 2


def test_generate_stores_what_scoring_one_by_one_stores(db: Engine, settings: Settings) -> None:
    sizes = {"provinces": 2, "communes_per_province": 2, "villages_per_commune": 3, "periods": 2}
    report = _run(settings, lambda s: generate(s, **sizes))
    assert report.scores == report.submissions > 0
    generated = _snapshot(db)

    async def one_by_one(session: AsyncSession) -> int:
        ids = (await session.execute(select(Submission.id))).scalars().all()
        return sum([await rescore_submissions(session, [i]) for i in ids])

    assert _run(settings, one_by_one) == report.scores
    assert _snapshot(db) == generated
    assert _run(settings, lambda s: rescore_everything(s, workers=2)) == report.scores
    assert _snapshot(db) == generated
