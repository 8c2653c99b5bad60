"""POST /submissions/import: CSV and JSON, all or nothing, per-row report, scope."""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.accounts import bearer, make_user
from tests.api.conftest import V, ha_nam_values, put_values

pytestmark = pytest.mark.usefixtures("tree", "reference")
DONG, BAC, BAN_PAN = "37-13402-DONG", "37-13402-BAC", "15-04000-01"
URL = f"{V}/submissions/import"


def _csv(rows: list[dict[str, Any]]) -> str:
    measures = list(ha_nam_values())
    lines = [",".join(["village_code", "period", *measures])]
    for row in rows:
        cells = [row["village_code"], row["period"]]
        cells += ["" if row["values"].get(m) is None else str(row["values"][m]).lower()
                  for m in measures]  # fmt: skip
        lines.append(",".join(cells))
    return "\n".join(lines) + "\n"


def _send_csv(client: TestClient, text: str, **params: Any) -> Any:
    return client.post(URL, content=text.encode(), params=params,
                       headers={"Content-Type": "text/csv"})  # fmt: skip


def test_import_csv_creates_scored_submissions(client: TestClient) -> None:
    rows = [{"village_code": DONG, "period": "2026Q1", "values": ha_nam_values()},
            {"village_code": BAC, "period": "2026Q1",
             "values": ha_nam_values() | {"households_with_fibre": 150}}]  # fmt: skip
    response = _send_csv(client, _csv(rows))
    assert response.status_code == 200, response.text
    assert response.json() == {"dry_run": False, "rows": 2, "created": 2, "updated": 0,
                               "unchanged": 0, "errors": []}  # fmt: skip
    dong = client.get(f"{V}/villages/{DONG}/submissions/2026Q1").json()
    assert dong["values"]["cultural_house_wifi"] is True
    assert dong["revision"] == 1
    bac = client.get(f"{V}/villages/{BAC}/score", params={"period": "2026Q1"}).json()
    fibre = next(i for i in bac["indicators"] if i["code"] == "HTS.1.1")
    assert fibre["gap"] == {"measure": "households_with_fibre", "amount": 10}
    revisions = client.get(f"{V}/villages/{BAC}/submissions/2026Q1/revisions").json()
    assert [r["revision"] for r in revisions["items"]] == [1]


def test_import_json_updates_and_counts_unchanged(client: TestClient) -> None:
    put_values(client, DONG, "2026Q1", ha_nam_values())
    put_values(client, BAC, "2026Q1", ha_nam_values())
    body = [{"village_code": DONG, "period": "2026Q1", "values": ha_nam_values()},
            {"village_code": BAC, "period": "2026Q1",
             "values": ha_nam_values() | {"households_with_fibre": 100}}]  # fmt: skip
    response = client.post(URL, json=body)
    assert response.status_code == 200, response.text
    assert (response.json()["updated"], response.json()["unchanged"]) == (1, 1)
    bac = client.get(f"{V}/villages/{BAC}/submissions/2026Q1").json()
    assert (bac["revision"], bac["values"]["households_with_fibre"]) == (2, 100)
    assert client.get(f"{V}/villages/{BAC}/score").json()["status"] == "not_met"


def test_import_dry_run_writes_nothing(client: TestClient) -> None:
    rows = [{"village_code": DONG, "period": "2026Q1", "values": ha_nam_values()}]
    response = _send_csv(client, _csv(rows), dry_run="true")
    assert response.status_code == 200
    assert response.json()["dry_run"] is True
    assert response.json()["created"] == 1
    assert client.get(f"{V}/villages/{DONG}/submissions/2026Q1").status_code == 404


def test_import_with_bad_rows_returns_422_and_writes_nothing(client: TestClient) -> None:
    good = {"village_code": DONG, "period": "2026Q1", "values": ha_nam_values()}
    rows = [good,
            {"village_code": "NOPE", "period": "2026Q1", "values": ha_nam_values()},
            {"village_code": BAC, "period": "2026Q1",
             "values": ha_nam_values() | {"households_with_fibre": 999}},
            {"village_code": BAC, "period": "2999Q1", "values": ha_nam_values()},
            good]  # fmt: skip
    response = _send_csv(client, _csv(rows))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    errors = {(e["row"], e["column"], e["code"]) for e in response.json()["errors"]}
    assert errors == {(2, "village_code", "unknown_village"),
                      (3, "households_with_fibre", "exceeds_max_ref"),
                      (4, "period", "future_period"),
                      (5, "period", "duplicate_row")}  # fmt: skip
    assert client.get(f"{V}/villages/{DONG}/submissions/2026Q1").status_code == 404


def test_import_csv_boolean_and_number_cells_are_typed(client: TestClient) -> None:
    text = "village_code,period,households_total,cultural_house_wifi,tcns_team_active\n"
    text += f"{DONG},2026Q1,200,1,FALSE\n{BAC},2026Q1,150,yes,true\n"
    response = _send_csv(client, text)
    assert response.status_code == 422
    errors = [(e["row"], e["column"], e["code"]) for e in response.json()["errors"]]
    assert errors == [(2, "cultural_house_wifi", "wrong_type")]


def test_import_over_approved_submission_is_refused(client: TestClient) -> None:
    put_values(client, DONG, "2026Q1", ha_nam_values())
    client.post(f"{V}/villages/{DONG}/submissions/2026Q1/approve", json={})
    body = [{"village_code": DONG, "period": "2026Q1", "values": {"households_total": 10}}]
    response = client.post(URL, json=body)
    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "submission_locked"


def test_import_by_reviewer_outside_scope_is_refused(client: TestClient, db: Engine) -> None:
    token = make_user(db, "rev-37", "reviewer", "37")
    body = [{"village_code": BAN_PAN, "period": "2025", "values": {"tcns_team_active": True}}]
    response = client.post(URL, json=body, headers=bearer(token))
    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "out_of_scope"


def test_import_multipart_file(client: TestClient) -> None:
    rows = [{"village_code": DONG, "period": "2026Q1", "values": ha_nam_values()}]
    files = {"file": ("figures.csv", _csv(rows).encode(), "text/csv")}
    response = client.post(URL, files=files)
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 1


def test_import_wrong_media_type_returns_415(client: TestClient) -> None:
    response = client.post(URL, content=b"<xml/>", headers={"Content-Type": "application/xml"})
    assert response.status_code == 415


def test_import_is_audited_per_row(client: TestClient) -> None:
    rows = [{"village_code": DONG, "period": "2026Q1", "values": ha_nam_values()}]
    _send_csv(client, _csv(rows))
    events = client.get(f"{V}/audit", params={"unit": DONG}).json()["items"]
    assert [(e["action"], e["period"], e["actor"]) for e in events] == [
        ("submission.import", "2026Q1", "root")
    ]
    assert events[0]["after"]["revision"] == 1
