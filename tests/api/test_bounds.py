"""Bad input at the boundary (SPEC §9): each case that used to answer 500, now a 4xx
problem+json naming the field, with nothing stored."""

import base64
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import V, ha_nam_values, publish, put_values, reference_document

pytestmark = pytest.mark.usefixtures("tree", "reference")
PROBLEM = "application/problem+json"
DONG = "37-13402-DONG"
URL = f"{V}/villages/{DONG}/submissions/2026Q1"


def send_json(client: TestClient, method: str, url: str, body: Any, **kw: Any) -> Any:
    """Send `body` as JSON with ASCII escapes, so a lone surrogate travels as `\\ud800`."""
    headers = {"content-type": "application/json"} | kw.pop("headers", {})
    return client.request(method, url, content=json.dumps(body), headers=headers, **kw)


def refused(response: Any, status: int = 422) -> list[str]:
    """Assert a problem+json with `status`; return the fields its `errors` name."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    return [e["field"] for e in response.json()["errors"]]


def forged(key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


# --- text no database can store ---------------------------------------------------------


def test_nul_in_sign_in_username_is_422_for_anyone(app: Any) -> None:
    with TestClient(app) as anonymous:
        response = anonymous.post(
            f"{V}/auth/token",
            content="username=ad%00min&password=whatever-long",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    assert refused(response) == ["username"]
    assert response.json()["errors"][0]["code"] == "nul_character"


def test_nul_in_multipart_sign_in_is_422(app: Any) -> None:
    with TestClient(app) as anonymous:
        form = {"username": (None, "ad\x00min"), "password": (None, "whatever-long")}
        response = anonymous.post(f"{V}/auth/token", files=form)
    assert refused(response) == ["username"]


def test_lone_surrogate_in_note_is_422_and_nothing_stored(client: TestClient) -> None:
    body = {"values": ha_nam_values(), "note": "Wi-Fi rất tốt \ud83d"}
    response = send_json(client, "PUT", URL, body)
    assert refused(response) == ["note"]
    assert response.json()["errors"][0]["code"] == "unpaired_surrogate"
    assert client.get(URL).status_code == 404


@pytest.mark.parametrize("media", [None, "application/json; charset=utf-8", "text/x+json"])
def test_bad_text_in_json_under_any_content_type_fastapi_parses(
    client: TestClient, media: str | None
) -> None:
    headers = {"content-type": media} if media else {}
    body = json.dumps({"values": {}, "note": "\x00"}).encode()
    assert refused(client.put(URL, content=body, headers=headers)) == ["note"]


def test_nul_in_evidence_names_the_item(client: TestClient) -> None:
    body = {"values": ha_nam_values(), "evidence": ["https://a.vn/x", "https://a.vn/\x00"]}
    assert refused(send_json(client, "PUT", URL, body)) == ["evidence.1"]
    assert client.get(URL).status_code == 404


def test_bad_text_in_a_values_key_is_named_printably(client: TestClient) -> None:
    response = send_json(client, "PUT", URL, {"values": {"households\ud800": 1}})
    assert refused(response) == ["values.households\\ud800"]


def test_nul_in_criteria_document_name_names_the_path(client: TestClient) -> None:
    document = reference_document() | {"version": 7}
    document["measures"][2]["name"]["vi"] = "Hộ\x00"
    response = send_json(client, "POST", f"{V}/criteria-sets", document)
    assert refused(response) == ["measures.2.name.vi"]
    assert client.get(f"{V}/criteria-sets/{document['code']}/versions/7").status_code == 404


def test_nul_in_query_and_path_parameters(client: TestClient) -> None:
    assert refused(client.get(f"{V}/units", params={"q": "Đông\x00"})) == ["q"]
    assert refused(client.get(f"{V}/units/37%00")) == ["code"]


@pytest.mark.parametrize(
    ("url", "field"),
    [(f"{V}/submissions?unit=3%007", "unit"), (f"{V}/units/37%00/scores", "code"),
     (f"{V}/villages/{DONG}%00/score", "village_code"), (f"{V}/audit?unit=%00", "unit")],
)  # fmt: skip
def test_nul_in_a_parameter_the_policy_looks_up(client: TestClient, url: str, field: str) -> None:
    assert refused(client.get(url)) == [field]


def test_nul_in_review_comment(client: TestClient, reviewer: dict[str, str]) -> None:
    assert put_values(client, DONG, "2026Q1", ha_nam_values()).status_code == 201
    response = send_json(client, "POST", f"{URL}/return", {"comment": "x\x00"}, headers=reviewer)
    assert refused(response) == ["comment"]
    assert client.get(URL).json()["status"] == "submitted"


def test_invalid_utf8_body_is_422_naming_body(client: TestClient) -> None:
    response = client.put(URL, content=b'{"values": {}, "note": "\xff"}',
                          headers={"content-type": "application/json"})  # fmt: skip
    assert refused(response) == ["body"]
    assert response.json()["errors"][0]["code"] == "invalid_utf8"


# --- numbers the database cannot hold ---------------------------------------------------


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, 2**53 + 1, 10**9 + 1], ids=str)
def test_measure_value_beyond_bound_is_422(client: TestClient, value: int) -> None:
    response = put_values(client, DONG, "2026Q1", ha_nam_values() | {"households_total": value})
    assert "values.households_total" in refused(response)
    assert client.get(URL).status_code == 404


def test_huge_float_measure_is_422(client: TestClient) -> None:
    response = send_json(client, "PUT", URL, {"values": {"households_total": 1e308}})
    assert refused(response) == ["values.households_total"]


def test_ratio_beyond_bound_is_422(client: TestClient) -> None:
    # version 9: the parsed-document cache (api/services/versions.py) is keyed by row id,
    # code and version, and ids restart between tests; another test publishes a version 2
    document = reference_document() | {"version": 9}
    fibre = next(m for m in document["measures"] if m["code"] == "households_with_fibre")
    del fibre["max_ref"]  # nothing but the ratio bound stops 10^9 fibre homes out of 5
    publish(client, document)
    values = {"households_with_fibre": 10**9, "households_total": 5}  # 2 × 10^10 percent
    response = put_values(client, DONG, "2026Q1", values)
    assert refused(response) == ["values.households_with_fibre"]
    assert response.json()["errors"][0]["code"] == "ratio_out_of_range"
    assert client.get(URL).status_code == 404


def test_criteria_set_version_of_2_31_is_422(client: TestClient) -> None:
    response = client.post(f"{V}/criteria-sets", json=reference_document() | {"version": 2**31})
    assert refused(response) == ["version"]


def test_criteria_document_number_beyond_bound_is_422(client: TestClient) -> None:
    document = reference_document() | {"version": 8}
    document["measures"][0]["max"] = 10**20
    assert refused(client.post(f"{V}/criteria-sets", json=document)) == ["measures.0.max"]


@pytest.mark.parametrize("action", ["", "/publish", "/retire"])
def test_criteria_set_version_path_beyond_integer_is_422(client: TestClient, action: str) -> None:
    path = f"{V}/criteria-sets/ttm-reference/versions/99999999999{action}"
    answer = client.get(path) if not action else client.post(path)
    assert refused(answer) == ["version"]


def test_api_key_id_beyond_integer_is_422(client: TestClient) -> None:
    assert refused(client.delete(f"{V}/api-keys/99999999999")) == ["key_id"]


# --- forged cursors ---------------------------------------------------------------------

WRONG_TYPES: dict[str, tuple[str, dict[str, Any]]] = {
    "units": (f"{V}/units", {"code": 5}),
    "criteria-sets": (f"{V}/criteria-sets", {"code": ["x"]}),
    "audit": (f"{V}/audit", {"id": "x"}),
    "audit-huge-id": (f"{V}/audit", {"id": 2**63}),
    "api-keys": (f"{V}/api-keys", {"id": 1.5}),
    "users": (f"{V}/users", {"username": "x" * 201}),
    "queue": (f"{V}/submissions", {"at": "garbage", "id": "x"}),
    "queue-no-offset": (f"{V}/submissions", {"at": "2026-01-01T00:00:00", "id": 1}),
    "queue-year-0": (f"{V}/submissions", {"at": "0001-01-01T00:00:00+05:00", "id": 1}),
    "revisions": (f"{URL}/revisions", {"revision": "2"}),
    "ranking": (
        f"{V}/units/37/scores",
        {"score": "NaN", "village_code": "x", "rank": 0, "period": "2026Q1"},
    ),
    "ranking-n": (
        f"{V}/units/37/scores",
        {"score": "1", "village_code": "x", "rank": True, "period": "2026Q1"},
    ),
    "ranking-s-range": (
        f"{V}/units/37/scores",
        {"score": "1e9", "village_code": "x", "rank": 0, "period": "2026Q1"},
    ),
    "ranking-n-range": (
        f"{V}/units/37/scores",
        {"score": "50", "village_code": "x", "rank": -1, "period": "2026Q1"},
    ),
    "trend": (f"{V}/villages/{DONG}/scores", {"period": 2026}),
}


@pytest.mark.parametrize("case", WRONG_TYPES, ids=str)
def test_forged_cursor_is_400(client: TestClient, case: str) -> None:
    assert put_values(client, DONG, "2026Q1", ha_nam_values()).status_code == 201
    url, key = WRONG_TYPES[case]
    response = client.get(url, params={"cursor": forged(key)})
    assert refused(response, 400) == ["cursor"]
    assert response.json()["errors"][0]["code"] == "invalid_cursor"


def test_real_cursors_still_page(client: TestClient) -> None:
    first = client.get(f"{V}/units", params={"limit": 2}).json()
    second = client.get(f"{V}/units", params={"limit": 2, "cursor": first["next_cursor"]})
    assert second.status_code == 200
    assert second.json()["items"][0]["code"] > first["items"][-1]["code"]


# --- instants ---------------------------------------------------------------------------


@pytest.mark.parametrize("since", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:00:00-05:00"])
def test_audit_since_outside_utc_years_is_422(client: TestClient, since: str) -> None:
    assert refused(client.get(f"{V}/audit", params={"since": since})) == ["since"]


def test_audit_since_with_offset_still_filters(client: TestClient) -> None:
    response = client.get(f"{V}/audit", params={"since": "2000-01-01T07:00:00+07:00"})
    assert response.status_code == 200
