"""PUT / GET submissions and their revisions, over HTTP."""

import unicodedata
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import V, ha_nam_values, put_values

pytestmark = pytest.mark.usefixtures("tree", "reference")
DONG = "37-13402-DONG"
URL = f"{V}/villages/{DONG}/submissions/2026Q1"


def test_put_new_submission_returns_201_with_etag(client: TestClient) -> None:
    response = put_values(client, DONG, "2026Q1", ha_nam_values())
    assert response.status_code == 201
    assert response.headers["etag"].startswith('"r1-')
    body = response.json()
    assert body["village_code"] == DONG
    assert body["period"] == "2026Q1"
    assert body["status"] == "submitted"
    assert body["revision"] == 1
    assert body["values"]["households_with_fibre"] == 170
    assert body["values"]["cultural_house_wifi"] is True


def test_put_changed_values_makes_new_revision_and_keeps_old(client: TestClient) -> None:
    values = ha_nam_values()
    put_values(client, DONG, "2026Q1", values)
    values["households_with_fibre"] = 180
    response = put_values(client, DONG, "2026Q1", values)
    assert response.status_code == 200
    assert response.json()["revision"] == 2
    revisions = client.get(f"{URL}/revisions").json()
    assert [r["revision"] for r in revisions["items"]] == [1, 2]
    assert [r["values"]["households_with_fibre"] for r in revisions["items"]] == [170, 180]
    assert revisions["next_cursor"] is None


def test_put_same_values_keeps_revision(client: TestClient) -> None:
    put_values(client, DONG, "2026Q1", ha_nam_values())
    response = put_values(client, DONG, "2026Q1", ha_nam_values())
    assert response.status_code == 200
    assert response.json()["revision"] == 1
    assert len(client.get(f"{URL}/revisions").json()["items"]) == 1


def test_put_replaces_whole_values_map(client: TestClient) -> None:
    put_values(client, DONG, "2026Q1", ha_nam_values())
    response = put_values(client, DONG, "2026Q1", {"households_total": 50})
    assert response.json()["values"] == {"households_total": 50}


def test_list_revisions_pages_with_cursor(client: TestClient) -> None:
    values = ha_nam_values()
    for fibre in (150, 160, 170):
        values["households_with_fibre"] = fibre
        put_values(client, DONG, "2026Q1", values)
    first = client.get(f"{URL}/revisions", params={"limit": 2}).json()
    assert [r["revision"] for r in first["items"]] == [1, 2]
    second = client.get(f"{URL}/revisions", params={"limit": 2, "cursor": first["next_cursor"]})
    assert [r["revision"] for r in second.json()["items"]] == [3]
    assert second.json()["next_cursor"] is None


def test_put_with_stale_if_match_returns_412(client: TestClient) -> None:
    first = put_values(client, DONG, "2026Q1", ha_nam_values()).headers["etag"]
    values = ha_nam_values() | {"households_with_fibre": 150}
    put_values(client, DONG, "2026Q1", values, headers={"If-Match": first})
    stale = put_values(client, DONG, "2026Q1", ha_nam_values(), headers={"If-Match": first})
    assert stale.status_code == 412
    assert stale.headers["content-type"] == "application/problem+json"
    assert client.get(URL).json()["values"]["households_with_fibre"] == 150


def test_put_with_current_if_match_succeeds(client: TestClient) -> None:
    etag = put_values(client, DONG, "2026Q1", ha_nam_values()).headers["etag"]
    values = ha_nam_values() | {"households_with_fibre": 150}
    response = put_values(client, DONG, "2026Q1", values, headers={"If-Match": etag})
    assert response.status_code == 200
    assert response.headers["etag"].startswith('"r2-')
    assert response.headers["etag"] != etag


@pytest.mark.parametrize(
    ("values", "field", "code"),
    [
        (
            {"households_total": 10, "households_with_fibre": 11},
            "values.households_with_fibre",
            "exceeds_max_ref",
        ),
        ({"households_total": 0}, "values.households_total", "below_min"),
        ({"households_total": "200"}, "values.households_total", "wrong_type"),
        ({"households_total": 12.5}, "values.households_total", "wrong_type"),
        ({"cultural_house_wifi": 1}, "values.cultural_house_wifi", "wrong_type"),
        ({"internet_cafes": 1}, "values.internet_cafes", "unknown_measure"),
    ],
    ids=[
        "exceeds-max-ref",
        "below-min",
        "string-for-integer",
        "float-for-integer",
        "int-for-boolean",
        "unknown-measure",
    ],
)
def test_put_bad_value_returns_422_naming_measure_and_stores_nothing(
    client: TestClient, values: dict[str, Any], field: str, code: str
) -> None:
    response = put_values(client, DONG, "2026Q1", values)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    errors = response.json()["errors"]
    assert {"field": field, "code": code} in [
        {"field": e["field"], "code": e["code"]} for e in errors
    ]
    assert client.get(URL).status_code == 404
    assert client.get(f"{V}/villages/{DONG}/score", params={"period": "2026Q1"}).status_code == 404


def test_put_bad_revision_keeps_previous_revision(client: TestClient) -> None:
    put_values(client, DONG, "2026Q1", ha_nam_values())
    bad = put_values(client, DONG, "2026Q1", ha_nam_values() | {"households_with_fibre": 999})
    assert bad.status_code == 422
    current = client.get(URL).json()
    assert current["revision"] == 1
    assert current["values"]["households_with_fibre"] == 170


def test_put_reports_every_bad_measure_at_once(client: TestClient) -> None:
    values = {"households_total": -1, "cultural_house_wifi": "yes", "bogus": 3}
    fields = {e["field"] for e in put_values(client, DONG, "2026Q1", values).json()["errors"]}
    assert fields == {"values.households_total", "values.cultural_house_wifi", "values.bogus"}


def test_put_future_period_returns_422_naming_period(client: TestClient) -> None:
    response = put_values(client, DONG, "2999Q1", ha_nam_values())
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "period"
    assert response.json()["errors"][0]["code"] == "future_period"


@pytest.mark.parametrize(
    "period", ["2026Q5", "26Q1", "2026-Q1", "２０２６"], ids=["q5", "short", "dash", "fullwidth"]
)
def test_put_malformed_period_returns_422(client: TestClient, period: str) -> None:
    response = put_values(client, DONG, period, ha_nam_values())
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "period"


def test_put_year_period_under_quarterly_set_returns_422(client: TestClient) -> None:
    response = put_values(client, DONG, "2025", ha_nam_values())
    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "wrong_period_type"


def test_put_before_any_set_in_force_returns_422(client: TestClient) -> None:
    response = put_values(client, DONG, "2023Q4", ha_nam_values())
    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "no_criteria_set"


@pytest.mark.parametrize("code", ["37", "13402", "NO-SUCH"], ids=["province", "commune", "unknown"])
def test_put_on_non_village_returns_404(client: TestClient, code: str) -> None:
    response = put_values(client, code, "2026Q1", ha_nam_values())
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_put_without_values_returns_422_naming_values(client: TestClient) -> None:
    response = client.put(URL, json={"note": "quên số liệu"})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["values"]


def test_put_stores_note_in_nfc(client: TestClient) -> None:
    decomposed = unicodedata.normalize("NFD", "Đã kiểm tra từng hộ")
    response = client.put(URL, json={"values": ha_nam_values(), "note": decomposed})
    assert response.json()["note"] == unicodedata.normalize("NFC", decomposed)
    assert client.get(URL).json()["note"] == "Đã kiểm tra từng hộ"


def test_put_invalid_evidence_url_returns_422(client: TestClient) -> None:
    response = client.put(URL, json={"values": ha_nam_values(), "evidence": ["not a url"]})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"].startswith("evidence")


def test_get_submission_honours_if_none_match(client: TestClient) -> None:
    put_values(client, DONG, "2026Q1", ha_nam_values())
    first = client.get(URL)
    assert first.status_code == 200
    again = client.get(URL, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""


def test_get_missing_submission_returns_404(client: TestClient) -> None:
    response = client.get(URL)
    assert response.status_code == 404
    assert response.json()["title"] == "Not found"
