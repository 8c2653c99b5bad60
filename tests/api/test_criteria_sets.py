"""Criteria sets over HTTP: drafts, validation, publish / retire and what they rescore."""

import copy
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import (
    V,
    ha_nam_values,
    lao_cai_document,
    publish,
    put_values,
    reference_document,
)

DONG, BAN_PAN = "37-13402-DONG", "15-04000-01"


def _version(document: dict[str, Any], version: int, **changes: Any) -> dict[str, Any]:
    new = copy.deepcopy(document)
    new.update(version=version, **changes)
    return new


def test_create_draft_returns_201_with_status_draft(client: TestClient) -> None:
    response = client.post(f"{V}/criteria-sets", json=reference_document())
    assert response.status_code == 201
    body = response.json()
    assert (body["code"], body["version"], body["status"]) == ("ttm-reference", 1, "draft")
    assert body["document"]["status"] == "draft"
    assert len(body["document"]["measures"]) == 24


def test_get_version_returns_whole_document_with_status(client: TestClient) -> None:
    publish(client, reference_document())
    response = client.get(f"{V}/criteria-sets/ttm-reference/versions/1")
    assert response.status_code == 200
    document = response.json()["document"]
    assert document["status"] == "published"
    assert document["title"]["vi"].startswith("Bộ tiêu chí")
    assert sum(len(c["indicators"]) for c in document["criteria"]) == 19


def test_list_criteria_sets_groups_versions(client: TestClient) -> None:
    publish(client, reference_document())
    client.post(f"{V}/criteria-sets", json=_version(reference_document(), 2))
    publish(client, lao_cai_document())
    response = client.get(f"{V}/criteria-sets")
    assert response.status_code == 200
    items = {i["code"]: i for i in response.json()["items"]}
    assert set(items) == {"ttm-reference", "ttm-lao-cai"}
    assert items["ttm-lao-cai"]["scope"] == "15"
    versions = [(v["version"], v["status"]) for v in items["ttm-reference"]["versions"]]
    assert versions == [(1, "published"), (2, "draft")]
    page = client.get(f"{V}/criteria-sets", params={"limit": 1}).json()
    assert len(page["items"]) == 1
    rest = client.get(f"{V}/criteria-sets", params={"cursor": page["next_cursor"]}).json()
    assert [i["code"] for i in page["items"] + rest["items"]] == ["ttm-lao-cai", "ttm-reference"]


def test_create_with_unknown_measure_returns_422_saying_where(client: TestClient) -> None:
    document = reference_document()
    document["criteria"][0]["indicators"][0]["numerator"] = "households_with_fiber_typo"
    response = client.post(f"{V}/criteria-sets", json=document)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    errors = response.json()["errors"]
    assert {"field": "criteria.0.indicators.0.numerator", "code": "unknown_measure"} in [
        {"field": e["field"], "code": e["code"]} for e in errors
    ]
    assert client.get(f"{V}/criteria-sets").json()["items"] == []


def test_create_with_unattainable_boolean_target_returns_422(client: TestClient) -> None:
    document = reference_document()
    wifi = document["criteria"][1]["indicators"][0]
    wifi["target"] = {"op": ">=", "value": 3}
    response = client.post(f"{V}/criteria-sets", json=document)
    assert response.status_code == 422
    assert any(e["code"] == "unattainable_target" for e in response.json()["errors"])


def test_create_same_or_lower_version_returns_409(client: TestClient) -> None:
    publish(client, reference_document())
    response = client.post(f"{V}/criteria-sets", json=reference_document())
    assert response.status_code == 409
    assert response.json()["errors"][0]["field"] == "version"


def test_publish_twice_returns_409_with_state_problem(client: TestClient) -> None:
    publish(client, reference_document())
    response = client.post(f"{V}/criteria-sets/ttm-reference/versions/1/publish")
    assert response.status_code == 409
    assert response.json()["type"].endswith("/criteria-set-state")


def test_publish_unknown_version_returns_404(client: TestClient) -> None:
    assert client.post(f"{V}/criteria-sets/ttm-reference/versions/7/publish").status_code == 404


@pytest.mark.usefixtures("tree")
def test_publishing_stricter_version_rescores_existing_submissions(client: TestClient) -> None:
    publish(client, reference_document())
    put_values(client, DONG, "2026Q1", ha_nam_values())
    stricter = _version(reference_document(), 2)
    stricter["criteria"][0]["indicators"][0]["target"]["value"] = 90
    publish(client, stricter)
    score = client.get(f"{V}/villages/{DONG}/score", params={"period": "2026Q1"}).json()
    assert score["criteria_set"] == {"code": "ttm-reference", "version": 2}
    assert score["status"] == "not_met"
    fibre = next(i for i in score["indicators"] if i["code"] == "HTS.1.1")
    assert fibre["gap"] == {"measure": "households_with_fibre", "amount": 10}


@pytest.mark.usefixtures("tree")
def test_older_version_still_scores_periods_before_newer_effective_from(client: TestClient) -> None:
    publish(client, reference_document())
    put_values(client, DONG, "2025Q4", ha_nam_values())
    put_values(client, DONG, "2026Q1", ha_nam_values())
    publish(client, _version(reference_document(), 2, effective_from="2026Q1"))
    trend = client.get(f"{V}/villages/{DONG}/scores").json()["items"]
    assert [(t["period"], t["criteria_set"]["version"]) for t in trend] == [
        ("2025Q4", 1),
        ("2026Q1", 2),
    ]


@pytest.mark.usefixtures("tree")
def test_retire_rescores_with_previous_version(client: TestClient) -> None:
    publish(client, reference_document())
    put_values(client, DONG, "2026Q1", ha_nam_values())
    publish(client, _version(reference_document(), 2))
    retired = client.post(f"{V}/criteria-sets/ttm-reference/versions/2/retire")
    assert retired.status_code == 200
    assert retired.json()["status"] == "retired"
    score = client.get(f"{V}/villages/{DONG}/score").json()
    assert score["criteria_set"] == {"code": "ttm-reference", "version": 1}


@pytest.mark.usefixtures("tree")
def test_retire_only_version_leaves_no_score_but_keeps_submission(client: TestClient) -> None:
    publish(client, reference_document())
    put_values(client, DONG, "2026Q1", ha_nam_values())
    client.post(f"{V}/criteria-sets/ttm-reference/versions/1/retire")
    assert client.get(f"{V}/villages/{DONG}/score", params={"period": "2026Q1"}).status_code == 404
    assert client.get(f"{V}/villages/{DONG}/submissions/2026Q1").status_code == 200
    again = client.post(f"{V}/criteria-sets/ttm-reference/versions/1/retire")
    assert again.status_code == 409


@pytest.mark.usefixtures("tree")
def test_province_scoped_set_wins_over_national_for_its_villages(client: TestClient) -> None:
    publish(client, reference_document())
    publish(client, lao_cai_document())
    quarter = put_values(client, BAN_PAN, "2026Q1", {"tcns_team_active": True})
    assert quarter.status_code == 422
    assert quarter.json()["errors"][0]["code"] == "wrong_period_type"
    lao_cai_values = {
        "tcns_team_active": True,
        "social_platforms_used": 2,
        "cultural_house_free_wifi_devices": 1,
        "adults_total": 300,
        "adults_with_smartphone": 290,
        "households_total": 120,
        "households_with_bank_account": 110,
    }
    response = client.put(
        f"{V}/villages/{BAN_PAN}/submissions/2025", json={"values": lao_cai_values}
    )
    assert response.status_code == 201, response.text
    ban_pan = client.get(f"{V}/villages/{BAN_PAN}/score").json()
    assert ban_pan["criteria_set"] == {"code": "ttm-lao-cai", "version": 1}
    assert ban_pan["status"] == "met"
    put_values(client, DONG, "2026Q1", ha_nam_values())
    dong = client.get(f"{V}/villages/{DONG}/score").json()
    assert dong["criteria_set"]["code"] == "ttm-reference"
