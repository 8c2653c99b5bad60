"""The audit trail: what each change recorded, request ids, filters, scope and immutability."""

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.accounts import TEST_PASSWORD, bearer, make_user
from tests.api.conftest import V, ha_nam_values, put_values

pytestmark = pytest.mark.usefixtures("tree", "reference")
PROBLEM = "application/problem+json"
DONG, PAN = "37-13402-DONG", "15-04000-01"
PERIOD = "2026Q1"
URL = f"{V}/villages/{DONG}/submissions/{PERIOD}"
AUDIT = f"{V}/audit"


@pytest.fixture
def story(client: TestClient, head: dict[str, str], reviewer: dict[str, str]) -> dict[str, str]:
    """PUT → approve → PUT (refused, 409) → reopen → PUT; returns each step's request id."""
    ids: dict[str, str] = {}
    first = put_values(
        client, DONG, PERIOD, ha_nam_values(), headers=head | {"X-Request-ID": "my-put-0001"}
    )
    assert first.status_code == 201
    ids["put1"] = first.headers["x-request-id"]
    approve = client.post(f"{URL}/approve", json={"comment": "ok"}, headers=reviewer)
    assert approve.status_code == 200
    ids["approve"] = approve.headers["x-request-id"]
    refused = put_values(client, DONG, PERIOD, ha_nam_values() | {"team_members": 6}, headers=head)
    assert refused.status_code == 409
    ids["refused"] = refused.headers["x-request-id"]
    reopen = client.post(f"{URL}/reopen", json={}, headers=reviewer)
    assert reopen.status_code == 200
    ids["reopen"] = reopen.headers["x-request-id"]
    second = put_values(client, DONG, PERIOD, ha_nam_values() | {"team_members": 7}, headers=head)
    assert second.status_code == 200
    ids["put2"] = second.headers["x-request-id"]
    return ids


def _audit(client: TestClient, headers: dict[str, str] | None = None, **params: Any) -> Any:
    return client.get(AUDIT, params=params, headers=headers or {})


def _items(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_list_audit_for_village_shows_workflow_newest_first(
    client: TestClient, story: dict[str, str]
) -> None:
    items = _items(_audit(client, unit=DONG))
    assert [i["action"] for i in items] == [
        "submission.put",
        "submission.reopen",
        "submission.approve",
        "submission.put",
    ]
    put2, reopen, approve, put1 = items
    for item in items:
        assert set(item) >= {"id", "at", "actor", "role", "action", "unit_code", "period",
                             "before", "after", "request_id"}  # fmt: skip
        assert (item["unit_code"], item["period"]) == (DONG, PERIOD)
    assert [i["id"] for i in items] == sorted((i["id"] for i in items), reverse=True)
    assert [i["at"] for i in items] == sorted((i["at"] for i in items), reverse=True)

    assert (put1["actor"], put1["role"]) == ("head-dong", "village_head")
    assert put1["before"] is None
    assert put1["after"]["revision"] == 1
    assert put1["after"]["status"] == "submitted"
    assert put1["after"]["values"] == ha_nam_values()

    assert (approve["actor"], approve["role"]) == ("rev-37", "reviewer")
    assert approve["before"]["status"] == "submitted"
    assert approve["after"]["status"] == "approved"
    assert approve["before"]["revision"] == approve["after"]["revision"] == 1

    assert (reopen["actor"], reopen["role"]) == ("rev-37", "reviewer")
    assert (reopen["before"]["status"], reopen["after"]["status"]) == ("approved", "submitted")

    assert (put2["actor"], put2["role"]) == ("head-dong", "village_head")
    assert put2["before"]["revision"] == 1
    assert put2["after"]["revision"] == 2
    assert put2["after"]["values"]["team_members"] == 7


def test_list_audit_records_request_id_of_each_change(
    client: TestClient, story: dict[str, str]
) -> None:
    items = _items(_audit(client, unit=DONG))
    assert [i["request_id"] for i in items] == [
        story["put2"],
        story["reopen"],
        story["approve"],
        story["put1"],
    ]
    assert story["put1"] == "my-put-0001"
    assert story["refused"] not in {i["request_id"] for i in items}


def test_list_audit_has_no_entry_for_refused_put(client: TestClient, story: dict[str, str]) -> None:
    items = _items(_audit(client, unit=DONG))
    refused = [i for i in items if (i["after"] or {}).get("values", {}).get("team_members") == 6]
    assert refused == []
    assert len([i for i in items if i["action"] == "submission.put"]) == 2


def test_put_with_insane_request_id_records_generated_id(
    client: TestClient, head: dict[str, str]
) -> None:
    response = put_values(
        client, DONG, PERIOD, ha_nam_values(), headers=head | {"X-Request-ID": "bad id; drop"}
    )
    generated = response.headers["x-request-id"]
    assert generated != "bad id; drop"
    assert _items(_audit(client, unit=DONG))[0]["request_id"] == generated


def test_list_audit_with_actor_filter_returns_only_that_actor(
    client: TestClient, story: dict[str, str]
) -> None:
    items = _items(_audit(client, actor="rev-37"))
    assert [i["action"] for i in items] == ["submission.reopen", "submission.approve"]
    assert {i["actor"] for i in items} == {"rev-37"}
    assert _items(_audit(client, actor="REV-37")) == items
    assert _items(_audit(client, actor="nobody")) == []


def test_list_audit_with_since_filter_returns_later_events(
    client: TestClient, story: dict[str, str]
) -> None:
    approve = next(
        i for i in _items(_audit(client, unit=DONG)) if i["action"] == "submission.approve"
    )
    later = _items(_audit(client, unit=DONG, since=approve["at"]))
    assert [i["action"] for i in later] == [
        "submission.put",
        "submission.reopen",
        "submission.approve",
    ]
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert _items(_audit(client, since=future)) == []
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    assert len(_items(_audit(client, unit=DONG, since=past))) == 4


def test_list_audit_with_bad_since_returns_422_naming_since(client: TestClient) -> None:
    response = _audit(client, since="yesterday")
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert [e["field"] for e in response.json()["errors"]] == ["since"]


def test_list_audit_pages_with_limit(client: TestClient, story: dict[str, str]) -> None:
    first = _audit(client, unit=DONG, limit=3).json()
    assert len(first["items"]) == 3
    second = _audit(client, unit=DONG, limit=3, cursor=first["next_cursor"]).json()
    assert [i["action"] for i in second["items"]] == ["submission.put"]
    assert second["next_cursor"] is None


def test_list_audit_as_province_reviewer_reads_own_province(
    client: TestClient, story: dict[str, str], reviewer: dict[str, str]
) -> None:
    assert put_values(client, PAN, PERIOD, ha_nam_values()).status_code == 201
    for params in ({"unit": "37"}, {"unit": "13402"}, {"unit": DONG}, {}):
        items = _items(_audit(client, reviewer, **params))
        assert len(items) == 4, params
        assert {i["unit_code"] for i in items} == {DONG}
    assert len(_items(_audit(client, unit="15"))) == 1


@pytest.mark.parametrize("unit", ["15", "04000", PAN], ids=["province", "commune", "village"])
def test_list_audit_other_province_as_reviewer_returns_403(
    client: TestClient, reviewer: dict[str, str], unit: str
) -> None:
    response = _audit(client, reviewer, unit=unit)
    assert response.status_code == 403
    assert response.headers["content-type"] == PROBLEM


def test_list_audit_as_commune_reviewer_of_other_commune_returns_403(
    client: TestClient, db: Engine, story: dict[str, str]
) -> None:
    reviewer = bearer(make_user(db, "rev-13393", "reviewer", "13393"))
    assert _audit(client, reviewer, unit="13402").status_code == 403
    assert _audit(client, reviewer, unit="37").status_code == 403
    assert _items(_audit(client, reviewer)) == []


def test_list_audit_as_village_head_returns_403(
    client: TestClient, head: dict[str, str], story: dict[str, str]
) -> None:
    for params in ({"unit": DONG}, {}):
        response = _audit(client, head, **params)
        assert response.status_code == 403
        assert response.headers["content-type"] == PROBLEM


def test_list_audit_as_integrator_returns_403(client: TestClient) -> None:
    key = client.post(f"{V}/api-keys", json={"name": "dash"}).json()["key"]
    response = _audit(client, {"Authorization": "", "X-API-Key": key})
    assert response.status_code == 403


def test_list_audit_without_credentials_returns_401(client: TestClient) -> None:
    response = _audit(client, {"Authorization": ""})
    assert response.status_code == 401
    assert "www-authenticate" in response.headers


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "POST"])
def test_change_audit_returns_405(client: TestClient, story: dict[str, str], method: str) -> None:
    before = _items(_audit(client))
    response = client.request(method, AUDIT, json={"action": "nothing.happened"})
    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM
    assert "GET" in response.headers["allow"]
    assert _items(_audit(client)) == before


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_change_audit_item_is_not_a_route(
    client: TestClient, story: dict[str, str], method: str
) -> None:
    item_id = _items(_audit(client))[0]["id"]
    response = client.request(method, f"{AUDIT}/{item_id}", json={"actor": "someone-else"})
    assert response.status_code in (404, 405)
    assert _items(_audit(client))[0]["actor"] == "head-dong"


def test_criteria_set_create_and_publish_are_audited_with_root(client: TestClient) -> None:
    # The `reference` fixture created and published ttm-reference v1 as root.
    items = _items(_audit(client, actor="root"))
    actions = [i["action"] for i in items]
    assert actions.index("criteria_set.publish") < actions.index("criteria_set.create")
    for action in ("criteria_set.create", "criteria_set.publish"):
        item = next(i for i in items if i["action"] == action)
        assert (item["actor"], item["role"]) == ("root", "admin")
        assert item["request_id"]
        assert "ttm-reference" in str(item["after"])


def test_create_user_is_audited_without_password(client: TestClient) -> None:
    response = client.post(
        f"{V}/users",
        json={"username": "rev-15", "password": TEST_PASSWORD, "role": "reviewer",
              "unit_code": "15"},
    )  # fmt: skip
    assert response.status_code == 201
    audit = _audit(client, actor="root")
    item = next(i for i in _items(audit) if i["action"] == "user.create")
    assert item["unit_code"] == "15"
    assert item["after"]["username"] == "rev-15"
    assert TEST_PASSWORD not in audit.text
    assert "$argon2" not in audit.text


def test_api_key_create_and_revoke_are_audited_without_key(client: TestClient) -> None:
    created = client.post(f"{V}/api-keys", json={"name": "dash", "unit_code": "37"}).json()
    assert client.delete(f"{V}/api-keys/{created['id']}").status_code == 204
    audit = _audit(client, actor="root")
    actions = [i["action"] for i in _items(audit)]
    assert actions[:2] == ["api_key.revoke", "api_key.create"]
    assert created["key"] not in audit.text
    assert created["key"].split("_", 2)[2] not in audit.text


def test_rejected_changes_are_not_audited(
    client: TestClient, head: dict[str, str], reviewer: dict[str, str]
) -> None:
    before = len(_items(_audit(client)))
    assert put_values(client, DONG, PERIOD, ha_nam_values(), headers=reviewer).status_code == 403
    bad = put_values(client, DONG, PERIOD, {"households_total": -1}, headers=head)
    assert bad.status_code == 422
    assert client.post(f"{URL}/approve", json={}, headers=reviewer).status_code == 404
    assert len(_items(_audit(client))) == before


@pytest.mark.parametrize(
    ("hours", "zone", "expected"),
    [
        (-3, timezone(timedelta(hours=7)), 4),
        (+3, timezone(timedelta(hours=-7)), 0),
        (-3, UTC, 4),
        (+3, UTC, 0),
    ],
    ids=["3h-ago-in-hanoi-time", "in-3h-in-utc-minus-7", "3h-ago-utc", "in-3h-utc"],
)
def test_list_audit_with_since_in_any_offset_compares_instants(
    client: TestClient, story: dict[str, str], hours: int, zone: timezone, expected: int
) -> None:
    since = (datetime.now(UTC) + timedelta(hours=hours)).astimezone(zone).isoformat()
    assert len(_items(_audit(client, unit=DONG, since=since))) == expected


@pytest.mark.parametrize(
    ("since", "expected"),
    [("2000-01-01T00:00:00", 4), ("2999-01-01T00:00:00", 0), ("2000-01-01", 4)],
    ids=["naive-past", "naive-future", "date-only"],
)
def test_list_audit_with_since_without_offset_returns_200(
    client: TestClient, story: dict[str, str], since: str, expected: int
) -> None:
    response = _audit(client, unit=DONG, since=since)
    assert response.status_code == 200, response.text
    assert len(response.json()["items"]) == expected
