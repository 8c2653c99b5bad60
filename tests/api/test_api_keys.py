"""Integrator API keys: shown once, checked on every request, revocable, approved scores only."""

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.accounts import bearer, make_user
from tests.api.conftest import V, ha_nam_values, put_values

pytestmark = pytest.mark.usefixtures("tree", "reference")
PROBLEM = "application/problem+json"
DONG, BAC, NINH_LAI = "37-13402-DONG", "37-13402-BAC", "37-13393-01"
PERIOD = "2026Q1"


def _create(client: TestClient, name: str = "dashboard", unit_code: str | None = None) -> Any:
    body: dict[str, Any] = {"name": name} | ({"unit_code": unit_code} if unit_code else {})
    return client.post(f"{V}/api-keys", json=body)


def _as_key(key: str) -> dict[str, str]:
    return {"Authorization": "", "X-API-Key": key}


def _keys(client: TestClient) -> list[dict[str, Any]]:
    response = client.get(f"{V}/api-keys")
    assert response.status_code == 200
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_create_api_key_returns_key_once(client: TestClient) -> None:
    response = _create(client)
    assert response.status_code == 201
    body = response.json()
    assert set(body) >= {"id", "name", "key", "prefix", "unit_code", "created_at"}
    assert re.fullmatch(r"sv_[0-9a-f]{8}_\S+", body["key"])
    assert body["prefix"] == body["key"][3:11]
    assert body["name"] == "dashboard"
    assert body["unit_code"] is None
    listing = client.get(f"{V}/api-keys")
    assert listing.status_code == 200
    [item] = listing.json()["items"]
    assert item["id"] == body["id"]
    assert item["prefix"] == body["prefix"]
    assert "key" not in item
    assert body["key"] not in listing.text
    assert body["key"].split("_", 2)[2] not in listing.text


def test_create_api_key_with_unit_returns_unit_code(client: TestClient) -> None:
    body = _create(client, unit_code="15").json()
    assert body["unit_code"] == "15"
    assert _keys(client)[0]["unit_code"] == "15"


def test_create_api_key_with_unknown_unit_returns_422_naming_unit_code(
    client: TestClient,
) -> None:
    response = _create(client, unit_code="99")
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert [e["field"] for e in response.json()["errors"]] == ["unit_code"]
    assert _keys(client) == []


def test_create_api_key_without_name_returns_422_naming_name(client: TestClient) -> None:
    response = client.post(f"{V}/api-keys", json={"name": ""})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["name"]


@pytest.mark.parametrize(
    "url",
    [
        f"{V}/units",
        f"{V}/units/37",
        f"{V}/criteria-sets",
        f"{V}/criteria-sets/ttm-reference/versions/1",
        f"{V}/units/37/scores",
        f"{V}/units/37/summary",
        f"{V}/me",
    ],
    ids=["units", "unit", "criteria-sets", "criteria-set", "ranking", "summary", "me"],
)
def test_get_with_api_key_returns_200(client: TestClient, url: str) -> None:
    put_values(client, DONG, PERIOD, ha_nam_values())
    client.post(f"{V}/villages/{DONG}/submissions/{PERIOD}/approve", json={})
    key = _create(client).json()["key"]
    response = client.get(url, headers=_as_key(key))
    assert response.status_code == 200, response.text


def test_get_village_score_with_api_key_returns_approved_score(client: TestClient) -> None:
    put_values(client, DONG, PERIOD, ha_nam_values())
    client.post(f"{V}/villages/{DONG}/submissions/{PERIOD}/approve", json={})
    key = _create(client).json()["key"]
    response = client.get(f"{V}/villages/{DONG}/score", headers=_as_key(key))
    assert response.status_code == 200
    assert response.json()["submission"] == {"status": "approved", "revision": 1}


@pytest.mark.parametrize(
    "key",
    ["sv_deadbeef_" + "A" * 43, "not-a-key", "sv_short_secret", ""],
    ids=["unknown", "malformed", "bad-prefix", "empty"],
)
def test_get_units_with_wrong_api_key_returns_401(client: TestClient, key: str) -> None:
    _create(client)
    response = client.get(f"{V}/units", headers=_as_key(key))
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM
    assert "www-authenticate" in response.headers


def test_get_units_with_right_prefix_wrong_secret_returns_401(client: TestClient) -> None:
    key = _create(client).json()["key"]
    forged = key[:12] + ("A" if key[12] != "A" else "B") + key[13:]
    assert client.get(f"{V}/units", headers=_as_key(forged)).status_code == 401


def test_revoke_api_key_returns_204_and_key_stops_working(client: TestClient) -> None:
    created = _create(client).json()
    assert client.get(f"{V}/units", headers=_as_key(created["key"])).status_code == 200
    response = client.delete(f"{V}/api-keys/{created['id']}")
    assert response.status_code == 204
    assert response.content == b""
    revoked = client.get(f"{V}/units", headers=_as_key(created["key"]))
    assert revoked.status_code == 401
    assert revoked.headers["content-type"] == PROBLEM
    assert _keys(client)[0]["revoked_at"] is not None


def test_revoke_api_key_twice_returns_204(client: TestClient) -> None:
    created = _create(client).json()
    assert client.delete(f"{V}/api-keys/{created['id']}").status_code == 204
    assert client.delete(f"{V}/api-keys/{created['id']}").status_code == 204


def test_revoke_unknown_api_key_returns_404(client: TestClient) -> None:
    response = client.delete(f"{V}/api-keys/999")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM


def test_revoke_api_key_leaves_other_keys_working(client: TestClient) -> None:
    first, second = _create(client, "a").json(), _create(client, "b").json()
    client.delete(f"{V}/api-keys/{first['id']}")
    assert client.get(f"{V}/units", headers=_as_key(second["key"])).status_code == 200


def test_get_other_province_with_limited_key_returns_403(client: TestClient) -> None:
    key = _create(client, unit_code="15").json()["key"]
    for url in (f"{V}/units/37/scores", f"{V}/units/37/summary", f"{V}/villages/{DONG}/score"):
        response = client.get(url, headers=_as_key(key))
        assert response.status_code == 403, url
        assert response.headers["content-type"] == PROBLEM
    in_scope = client.get(f"{V}/units/15/scores", params={"period": PERIOD}, headers=_as_key(key))
    assert in_scope.status_code == 200


def test_get_commune_scores_with_province_key_returns_200(client: TestClient) -> None:
    key = _create(client, unit_code="37").json()["key"]
    period = {"period": PERIOD}
    commune = client.get(f"{V}/units/13402/scores", params=period, headers=_as_key(key))
    assert commune.status_code == 200
    other = client.get(f"{V}/units/15/scores", params=period, headers=_as_key(key))
    assert other.status_code == 403


def test_last_used_at_is_set_after_use(client: TestClient) -> None:
    created = _create(client).json()
    assert _keys(client)[0]["last_used_at"] is None
    assert client.get(f"{V}/units", headers=_as_key(created["key"])).status_code == 200
    assert _keys(client)[0]["last_used_at"] is not None


def test_create_api_key_as_integrator_returns_403(client: TestClient) -> None:
    key = _create(client).json()["key"]
    response = client.post(f"{V}/api-keys", json={"name": "mine"}, headers=_as_key(key))
    assert response.status_code == 403
    assert response.headers["content-type"] == PROBLEM
    assert len(_keys(client)) == 1


@pytest.mark.parametrize(
    ("method", "url"),
    [("GET", f"{V}/api-keys"), ("DELETE", f"{V}/api-keys/1"), ("GET", f"{V}/users")],
    ids=["list-keys", "revoke-key", "list-users"],
)
def test_admin_route_as_integrator_returns_403(client: TestClient, method: str, url: str) -> None:
    key = _create(client).json()["key"]
    assert client.request(method, url, headers=_as_key(key)).status_code == 403
    assert _keys(client)[0]["revoked_at"] is None


def test_create_api_key_as_reviewer_returns_403(client: TestClient, db: Engine) -> None:
    reviewer = bearer(make_user(db, "rev-37", "reviewer", "37"))
    assert _create(client).status_code == 201
    response = client.post(f"{V}/api-keys", json={"name": "mine"}, headers=reviewer)
    assert response.status_code == 403


def test_put_as_integrator_returns_403(client: TestClient) -> None:
    key = _create(client).json()["key"]
    response = put_values(client, DONG, PERIOD, ha_nam_values(), headers=_as_key(key))
    assert response.status_code == 403
    assert client.get(f"{V}/villages/{DONG}/submissions/{PERIOD}").status_code == 404


@pytest.mark.parametrize(
    "url",
    [f"{V}/villages/{DONG}/submissions/{PERIOD}", f"{V}/submissions", f"{V}/audit"],
    ids=["submission", "review-queue", "audit"],
)
def test_read_submissions_or_audit_as_integrator_returns_403(client: TestClient, url: str) -> None:
    put_values(client, DONG, PERIOD, ha_nam_values())
    key = _create(client).json()["key"]
    assert client.get(url, headers=_as_key(key)).status_code == 403


# Integrators see approved submissions only.


@pytest.fixture
def half_approved(client: TestClient, tree: dict[str, int], reference: Any) -> str:
    """Đông approved (fibre 85 %), Bắc only submitted (fibre 50 %, not met) in 2026Q1;
    Đông also approved in 2025Q4. Returns an integrator key."""
    assert put_values(client, DONG, "2025Q4", ha_nam_values()).status_code == 201
    assert put_values(client, DONG, PERIOD, ha_nam_values()).status_code == 201
    bac = ha_nam_values() | {"households_with_fibre": 100}
    assert put_values(client, BAC, PERIOD, bac).status_code == 201
    for period in ("2025Q4", PERIOD):
        url = f"{V}/villages/{DONG}/submissions/{period}/approve"
        assert client.post(url, json={}).status_code == 200
    key: str = _create(client).json()["key"]
    return key


def _indicator(summary: dict[str, Any], code: str) -> dict[str, Any]:
    return next(i for i in summary["indicators"] if i["code"] == code)


def test_list_unit_rankings_as_integrator_excludes_unapproved(
    client: TestClient, half_approved: str
) -> None:
    url = f"{V}/units/37/scores"
    mine = client.get(url, params={"period": PERIOD}, headers=_as_key(half_approved))
    assert mine.status_code == 200
    assert [(i["rank"], i["village_code"]) for i in mine.json()["items"]] == [(1, DONG)]
    admin = client.get(url, params={"period": PERIOD}).json()["items"]
    assert sorted(i["village_code"] for i in admin) == [BAC, DONG]


def test_get_unit_summary_as_integrator_counts_approved_only(
    client: TestClient, half_approved: str
) -> None:
    url = f"{V}/units/37/summary"
    mine = client.get(url, params={"period": PERIOD}, headers=_as_key(half_approved))
    assert mine.status_code == 200
    summary = mine.json()
    assert summary["villages_total"] == 3
    assert summary["villages_reported"] == 1
    assert summary["villages_met"] == 1
    assert summary["communes_with_smart_village"] == 1
    fibre = _indicator(summary, "HTS.1.1")
    assert (fibre["mean"], fibre["pass_rate"]) == (85.0, 1.0)
    assert fibre.get("villages", 1) == 1
    admin = client.get(url, params={"period": PERIOD}).json()
    assert admin["villages_reported"] == 2
    assert admin["villages_met"] == 1
    admin_fibre = _indicator(admin, "HTS.1.1")
    assert (admin_fibre["mean"], admin_fibre["pass_rate"]) == (67.5, 0.5)
    assert admin_fibre.get("villages", 2) == 2


def test_get_commune_summary_as_integrator_counts_approved_only(
    client: TestClient, half_approved: str
) -> None:
    url = f"{V}/units/13402/summary"
    mine = client.get(url, params={"period": PERIOD}, headers=_as_key(half_approved)).json()
    assert (mine["villages_total"], mine["villages_reported"]) == (2, 1)
    assert _indicator(mine, "HTS.1.1")["mean"] == 85.0


def test_get_village_score_as_integrator_unapproved_returns_404(
    client: TestClient, half_approved: str
) -> None:
    mine = client.get(
        f"{V}/villages/{BAC}/score", params={"period": PERIOD}, headers=_as_key(half_approved)
    )
    assert mine.status_code == 404
    assert mine.headers["content-type"] == PROBLEM
    assert (
        client.get(f"{V}/villages/{BAC}/score", headers=_as_key(half_approved)).status_code == 404
    )
    assert client.get(f"{V}/villages/{BAC}/score", params={"period": PERIOD}).status_code == 200


def test_list_village_scores_as_integrator_excludes_unapproved(
    client: TestClient, half_approved: str
) -> None:
    bac = client.get(f"{V}/villages/{BAC}/scores", headers=_as_key(half_approved))
    assert bac.status_code == 200
    assert bac.json()["items"] == []
    assert len(client.get(f"{V}/villages/{BAC}/scores").json()["items"]) == 1
    dong = client.get(f"{V}/villages/{DONG}/scores", headers=_as_key(half_approved)).json()
    assert [i["period"] for i in dong["items"]] == ["2025Q4", PERIOD]


def test_latest_period_as_integrator_counts_approved_scores_only(
    client: TestClient, half_approved: str
) -> None:
    # Reopen Đông's 2026Q1: the latest approved score in province 37 is now 2025Q4.
    reopen = client.post(f"{V}/villages/{DONG}/submissions/{PERIOD}/reopen", json={})
    assert reopen.status_code == 200
    key = _as_key(half_approved)
    ranking = client.get(f"{V}/units/37/scores", headers=key).json()["items"]
    assert [(i["village_code"], i["period"]) for i in ranking] == [(DONG, "2025Q4")]
    assert client.get(f"{V}/units/37/summary", headers=key).json()["period"] == "2025Q4"
    assert client.get(f"{V}/villages/{DONG}/score", headers=key).json()["period"] == "2025Q4"
    trend = client.get(f"{V}/villages/{DONG}/scores", headers=key).json()["items"]
    assert [i["period"] for i in trend] == ["2025Q4"]
    assert client.get(f"{V}/units/37/summary").json()["period"] == PERIOD
    assert client.get(f"{V}/villages/{DONG}/score").json()["period"] == PERIOD
    admin_ranking = client.get(f"{V}/units/37/scores").json()["items"]
    assert {i["period"] for i in admin_ranking} == {PERIOD}


def test_summary_as_integrator_without_any_approved_score_reports_nothing(
    client: TestClient,
) -> None:
    put_values(client, DONG, PERIOD, ha_nam_values())
    key = _as_key(_create(client).json()["key"])
    period = {"period": PERIOD}
    ranking = client.get(f"{V}/units/37/scores", params=period, headers=key)
    assert ranking.json()["items"] == []
    assert client.get(f"{V}/units/37/scores", headers=key).status_code == 404
    assert client.get(f"{V}/villages/{DONG}/score", headers=key).status_code == 404
    summary = client.get(f"{V}/units/37/summary", params={"period": PERIOD}, headers=key)
    assert summary.status_code == 200
    assert summary.json()["villages_reported"] == 0
    assert summary.json()["villages_met"] == 0
