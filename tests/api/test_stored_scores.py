"""A village's score and a ranking are served from what the write stored (issue 8): the
answer is rendered by the transaction that scores, every write shows at once, and a row
scored before bodies were stored is rendered on the fly, identically."""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from tests.api.conftest import V, ha_nam_values, put_values

pytestmark = pytest.mark.usefixtures("tree", "reference")
DONG, BAC = "37-13402-DONG", "37-13402-BAC"


def _score(client: TestClient, village: str = DONG, **params: Any) -> Any:
    response = client.get(f"{V}/villages/{village}/score", params=params)
    assert response.status_code == 200, response.text
    return response


def test_the_stored_body_is_what_a_read_sends_with_its_etag(client: TestClient, db: Engine) -> None:
    put_values(client, DONG, "2026Q1", ha_nam_values())
    response = _score(client)
    with db.connect() as conn:
        body, etag = conn.execute(text("SELECT body, etag FROM score")).one()
    assert response.content == bytes(body)
    assert response.headers["etag"] == etag
    again = client.get(f"{V}/villages/{DONG}/score", headers={"If-None-Match": etag})
    assert again.status_code == 304


def test_every_write_shows_in_the_next_read(client: TestClient, reviewer: dict[str, str]) -> None:
    put_values(client, DONG, "2026Q1", ha_nam_values())
    first = _score(client)
    put_values(client, DONG, "2026Q1", ha_nam_values() | {"households_with_fibre": 143})
    second = _score(client)
    assert second.json()["status"] == "not_met"
    assert second.json()["submission"]["revision"] == 2
    assert second.headers["etag"] != first.headers["etag"]
    approved = client.post(f"{V}/villages/{DONG}/submissions/2026Q1/approve", headers=reviewer)
    assert approved.status_code == 200, approved.text
    third = _score(client)
    assert third.json()["submission"] == {"status": "approved", "revision": 2}
    assert third.headers["etag"] not in (first.headers["etag"], second.headers["etag"])


def test_a_score_stored_without_a_body_reads_the_same(client: TestClient, db: Engine) -> None:
    put_values(client, DONG, "2026Q1", ha_nam_values() | {"households_with_fibre": 143})
    put_values(client, DONG, "2026Q2", ha_nam_values())
    stored = {p: _score(client, period=p) for p in ("2026Q1", "2026Q2")}
    with db.begin() as conn:
        conn.execute(text("UPDATE score SET body = NULL, etag = NULL"))
    for period, response in stored.items():
        live = _score(client, period=period)
        assert live.json() == response.json()
        assert live.headers["etag"] == response.headers["etag"]
    assert _score(client).json()["period"] == "2026Q2"  # the latest, as before


def test_the_latest_period_is_the_latest_the_caller_may_see(
    client: TestClient, reviewer: dict[str, str], db: Engine
) -> None:
    put_values(client, DONG, "2026Q1", ha_nam_values())
    put_values(client, DONG, "2026Q2", ha_nam_values())
    client.post(f"{V}/villages/{DONG}/submissions/2026Q1/approve", headers=reviewer)
    key = client.post(f"{V}/api-keys", json={"name": "map"}).json()["key"]
    integrator = {"X-API-Key": key, "Authorization": ""}
    seen = client.get(f"{V}/villages/{DONG}/score", headers=integrator)
    assert seen.status_code == 200, seen.text
    assert seen.json()["period"] == "2026Q1"
    assert _score(client).json()["period"] == "2026Q2"
    hidden = client.get(f"{V}/villages/{DONG}/score?period=2026Q2", headers=integrator)
    assert hidden.status_code == 404


def test_a_ranking_page_matches_its_stored_scores(client: TestClient) -> None:
    put_values(client, DONG, "2026Q1", ha_nam_values())
    put_values(client, BAC, "2026Q1", ha_nam_values() | {"households_with_fibre": 143})
    page = client.get(f"{V}/units/37/scores", params={"limit": 1})
    assert page.status_code == 200, page.text
    first = page.json()
    assert [i["village_code"] for i in first["items"]] == [DONG]
    assert first["items"][0]["score"] == _score(client).json()["score"]
    rest = client.get(f"{V}/units/37/scores", params={"limit": 1, "cursor": first["next_cursor"]})
    assert [(i["rank"], i["village_code"]) for i in rest.json()["items"]] == [(2, BAC)]
    assert rest.json()["next_cursor"] is None
