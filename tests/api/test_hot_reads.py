"""The hot reads' fast path (`api.web.hot_reads`) answers exactly as the FastAPI routes do:
every request below gets the same status, body and headers with it on and off, and the
ordinary ones are really served by it."""

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.web.deps import get_access
from tests.accounts import bearer, make_user
from tests.api.conftest import V, ha_nam_values, put_values

pytestmark = pytest.mark.usefixtures("tree", "reference")
DONG, BAC, NINH_LAI = "37-13402-DONG", "37-13402-BAC", "37-13393-01"
HEADERS = ("content-type", "etag", "www-authenticate", "retry-after")

REQUESTS = [
    f"{V}/villages/{DONG}/score",
    f"{V}/villages/{DONG}/score?period=2026Q1",
    f"{V}/villages/{DONG}/score?period=2026Q3",
    f"{V}/villages/{DONG}/score?period=2026Q9",
    f"{V}/villages/{DONG}/score?period=toolong7",
    f"{V}/villages/{NINH_LAI}/score",
    f"{V}/villages/13402/score",
    f"{V}/villages/nope/score",
    f"{V}/villages/{DONG}/score?unknown=1",
    f"{V}/units/37/scores",
    f"{V}/units/37/scores?limit=1",
    f"{V}/units/37/scores?limit=1&sort=score",
    f"{V}/units/37/scores?sort=village_code&status=met",
    f"{V}/units/37/scores?status=incomplete",
    f"{V}/units/37/scores?period=2026Q2",
    f"{V}/units/13402/scores?limit=2",
    f"{V}/units/{DONG}/scores",
    f"{V}/units/37/scores?limit=0",
    f"{V}/units/37/scores?limit=501",
    f"{V}/units/37/scores?limit=x",
    f"{V}/units/37/scores?sort=bogus",
    f"{V}/units/37/scores?status=",
    f"{V}/units/37/scores?cursor=not-a-cursor",
    f"{V}/units/nope/scores",
    f"{V}/units/01/scores",
]


def _seed(client: TestClient, reviewer: dict[str, str]) -> None:
    put_values(client, DONG, "2026Q1", ha_nam_values())
    put_values(client, DONG, "2026Q2", ha_nam_values() | {"households_with_fibre": 143})
    put_values(client, BAC, "2026Q1", ha_nam_values() | {"households_with_fibre": 150})
    put_values(client, NINH_LAI, "2026Q1", ha_nam_values())
    put_values(client, BAC, "2026Q2", ha_nam_values())
    put_values(client, NINH_LAI, "2026Q2", ha_nam_values() | {"households_with_fibre": 120})
    approved = client.post(f"{V}/villages/{DONG}/submissions/2026Q1/approve", headers=reviewer)
    assert approved.status_code == 200, approved.text


def _answers(client: TestClient, headers: dict[str, str], *, hot: bool) -> list[Any]:
    app: FastAPI = client.app  # type: ignore[assignment]  # TestClient types it as ASGIApp
    app.state.hot_reads = hot
    out = []
    for url in REQUESTS:
        r = client.get(url, headers=headers)
        out.append((url, r.status_code, r.content, [(h, r.headers.get(h)) for h in HEADERS]))
    page = client.get(f"{V}/units/37/scores", params={"limit": 1}, headers=headers).json()
    if page.get("next_cursor"):
        r = client.get(
            f"{V}/units/37/scores", params={"cursor": page["next_cursor"]}, headers=headers
        )
        out.append(("next page", r.status_code, r.content, []))
    return out


def _callers(client: TestClient, db: Engine) -> dict[str, dict[str, str]]:
    key = client.post(f"{V}/api-keys", json={"name": "map"}).json()["key"]
    return {
        "admin": {},
        "integrator": {"Authorization": "", "X-API-Key": key},
        "head": bearer(make_user(db, "head-dong-2", "village_head", DONG)),
        "commune reviewer": bearer(make_user(db, "rev-13402", "reviewer", "13402")),
        "no credentials": {"Authorization": ""},
        "bad token": {"Authorization": "Bearer nonsense"},
        "bad key": {"Authorization": "", "X-API-Key": "sv_0000_nope"},
    }


def test_the_fast_path_answers_as_the_routes_do(
    client: TestClient, reviewer: dict[str, str], db: Engine
) -> None:
    _seed(client, reviewer)
    for who, headers in _callers(client, db).items():
        routed = _answers(client, headers, hot=False)
        fast = _answers(client, headers, hot=True)
        for expected, got in zip(routed, fast, strict=True):
            assert got == expected, f"{who}: {expected[0]}"


def test_ordinary_reads_do_not_go_through_the_routes(
    app: FastAPI, client: TestClient, reviewer: dict[str, str]
) -> None:
    _seed(client, reviewer)

    def no_route() -> None:
        raise AssertionError("the route's guard ran")

    app.dependency_overrides[get_access] = no_route
    try:
        assert client.get(f"{V}/villages/{DONG}/score").status_code == 200
        assert client.get(f"{V}/units/37/scores").status_code == 200
        app.state.hot_reads = False  # the route's guard now runs, and fails
        with pytest.raises(AssertionError, match="guard ran"):
            client.get(f"{V}/villages/{DONG}/score")
    finally:
        app.dependency_overrides.clear()
        app.state.hot_reads = True
