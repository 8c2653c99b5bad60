"""A PUT scores its submission from what it already read (issue 8): what it stores — the
score, its indicator facts and the commune roll-ups — is exactly what rescoring the
submission from the database stores (a review step does that)."""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from tests.api.conftest import V, ha_nam_values, put_values

pytestmark = pytest.mark.usefixtures("tree", "reference")
DONG, BAC = "37-13402-DONG", "37-13402-BAC"
SCORE_COLUMNS = (
    "submission_id, village_id, commune_id, province_id, village_code, period, "
    "criteria_set_version_id, status, score, submission_revision, submission_status"
)


def _stored(db: Engine) -> dict[str, list[Any]]:
    queries = {
        "score": f"SELECT {SCORE_COLUMNS} FROM score ORDER BY submission_id",
        "facts": "SELECT * FROM score_indicator ORDER BY submission_id, indicator_code",
        "rollups": "SELECT * FROM indicator_rollup ORDER BY commune_id, period, indicator_code",
    }
    with db.connect() as conn:
        return {name: [tuple(r) for r in conn.execute(text(q))] for name, q in queries.items()}


def _review(client: TestClient, headers: dict[str, str], village: str, step: str) -> None:
    body = {"comment": "again"} if step == "return" else None
    response = client.post(
        f"{V}/villages/{village}/submissions/2026Q1/{step}", headers=headers, json=body
    )
    assert response.status_code == 200, response.text


def _score_json(client: TestClient, village: str) -> dict[str, Any]:
    response = client.get(f"{V}/villages/{village}/score", params={"period": "2026Q1"})
    assert response.status_code == 200, response.text
    return {k: v for k, v in response.json().items() if k != "computed_at"}


def test_a_put_stores_what_rescoring_stores(
    client: TestClient, db: Engine, reviewer: dict[str, str]
) -> None:
    assert put_values(client, DONG, "2026Q1", ha_nam_values()).status_code == 201
    assert put_values(client, BAC, "2026Q1", ha_nam_values()).status_code == 201
    revised = ha_nam_values() | {"households_with_fibre": 143, "cultural_house_wifi": False}
    assert put_values(client, DONG, "2026Q1", revised).status_code == 200
    after_put, served = _stored(db), _score_json(client, DONG)
    assert all(after_put.values())
    _review(client, reviewer, DONG, "return")  # rescored from the database, twice
    _review(client, reviewer, DONG, "reopen")
    assert _stored(db) == after_put
    assert _score_json(client, DONG) == served


def test_an_unchanged_put_writes_nothing(client: TestClient, db: Engine) -> None:
    assert put_values(client, DONG, "2026Q1", ha_nam_values()).status_code == 201
    before = _stored(db)
    again = put_values(client, DONG, "2026Q1", ha_nam_values())
    assert again.status_code == 200
    assert again.json()["revision"] == 1
    assert _stored(db) == before
