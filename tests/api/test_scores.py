"""Village scores, trends, rankings and summaries, over HTTP."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import V, ha_nam_values, put_values

pytestmark = pytest.mark.usefixtures("tree", "reference")
DONG, BAC, NINH_LAI = "37-13402-DONG", "37-13402-BAC", "37-13393-01"


def _indicator(score: dict[str, Any], code: str) -> dict[str, Any]:
    return next(i for i in score["indicators"] if i["code"] == code)


def test_ha_nam_village_scores_met_with_every_indicator_explained(client: TestClient) -> None:
    put_values(client, DONG, "2026Q1", ha_nam_values())
    response = client.get(f"{V}/villages/{DONG}/score", params={"period": "2026Q1"})
    assert response.status_code == 200
    score = response.json()
    assert score["status"] == "met"
    assert score["score"] == 100.0
    assert score["criteria_set"] == {"code": "ttm-reference", "version": 1}
    assert score["submission"] == {"status": "submitted", "revision": 1}
    assert len(score["indicators"]) == 19
    fibre = _indicator(score, "HTS.1.1")
    assert fibre == {
        "code": "HTS.1.1",
        "criterion": "HTS.1",
        "kind": "ratio",
        "value": 85.0,
        "target": {"op": ">=", "value": 80},
        "passed": True,
        "applicable": True,
        "mandatory": True,
        "attainment": 1.0,
        "gap": None,
    }
    assert _indicator(score, "XHS.1.1")["value"] == 92.5
    assert all(i["passed"] and i["gap"] is None for i in score["indicators"])


def test_fiber_miss_shows_exact_household_gap(client: TestClient) -> None:
    put_values(client, DONG, "2026Q1", ha_nam_values() | {"households_with_fibre": 143})
    score = client.get(f"{V}/villages/{DONG}/score").json()
    fibre = _indicator(score, "HTS.1.1")
    assert score["status"] == "not_met"
    assert fibre["value"] == 71.5
    assert fibre["passed"] is False
    assert fibre["attainment"] == 0.8938
    assert fibre["gap"] == {"measure": "households_with_fibre", "amount": 17}


def test_exact_threshold_passes_without_float_error(client: TestClient) -> None:
    # 16 of 20 households = exactly 80 %: meets a >= 80 target.
    put_values(
        client,
        DONG,
        "2026Q1",
        ha_nam_values()
        | {
            "households_total": 20,
            "households_with_fibre": 16,
            "households_with_4g5g_coverage": 20,
            "households_with_digital_address": 20,
            "households_in_group": 16,
            "households_with_epayment": 18,
        },
    )
    fibre = _indicator(client.get(f"{V}/villages/{DONG}/score").json(), "HTS.1.1")
    assert (fibre["value"], fibre["passed"], fibre["gap"]) == (80.0, True, None)


def test_zero_outlets_makes_qr_indicator_not_applicable(client: TestClient) -> None:
    put_values(
        client, DONG, "2026Q1", ha_nam_values() | {"outlets_total": 0, "outlets_accepting_qr": 0}
    )
    score = client.get(f"{V}/villages/{DONG}/score").json()
    qr = _indicator(score, "KTS.1.1")
    assert (qr["applicable"], qr["passed"], qr["gap"]) == (False, None, None)
    assert score["status"] == "met"


def test_missing_mandatory_measure_scores_incomplete(client: TestClient) -> None:
    values = ha_nam_values()
    del values["cultural_house_wifi"]
    put_values(client, DONG, "2026Q1", values)
    score = client.get(f"{V}/villages/{DONG}/score").json()
    wifi = _indicator(score, "HTS.2.1")
    assert score["status"] == "incomplete"
    assert (wifi["value"], wifi["applicable"], wifi["passed"], wifi["attainment"], wifi["gap"]) == (
        None,
        True,
        False,
        0.0,
        None,
    )
    assert score["score"] < 100


def test_boolean_miss_has_gap_without_amount(client: TestClient) -> None:
    put_values(client, DONG, "2026Q1", ha_nam_values() | {"cultural_house_wifi": False})
    wifi = _indicator(client.get(f"{V}/villages/{DONG}/score").json(), "HTS.2.1")
    assert wifi["gap"] == {"measure": "cultural_house_wifi", "amount": None}
    assert wifi["attainment"] == 0.0


def test_village_score_defaults_to_latest_period_and_trend_lists_all(client: TestClient) -> None:
    put_values(client, DONG, "2025Q4", ha_nam_values() | {"households_with_fibre": 100})
    put_values(client, DONG, "2026Q1", ha_nam_values())
    assert client.get(f"{V}/villages/{DONG}/score").json()["period"] == "2026Q1"
    trend = client.get(f"{V}/villages/{DONG}/scores").json()
    assert [(t["period"], t["status"]) for t in trend["items"]] == [
        ("2025Q4", "not_met"),
        ("2026Q1", "met"),
    ]
    assert trend["next_cursor"] is None


def test_village_without_score_returns_404(client: TestClient) -> None:
    response = client.get(f"{V}/villages/{DONG}/score")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def _three_villages(client: TestClient) -> None:
    put_values(client, DONG, "2026Q1", ha_nam_values())
    put_values(client, BAC, "2026Q1", ha_nam_values() | {"households_with_fibre": 100})
    put_values(client, NINH_LAI, "2026Q1", ha_nam_values() | {"households_with_fibre": 100})


def test_province_ranking_sorts_by_score_then_code(client: TestClient) -> None:
    _three_villages(client)
    response = client.get(f"{V}/units/37/scores")
    assert response.status_code == 200
    items = response.json()["items"]
    assert [(i["rank"], i["village_code"]) for i in items] == [
        (1, DONG),
        (2, NINH_LAI),
        (3, BAC),
    ]
    assert items[0] == {
        "rank": 1,
        "village_code": DONG,
        "village_name": "Thôn Đông",
        "commune_code": "13402",
        "period": "2026Q1",
        "score": 100.0,
        "status": "met",
    }
    assert items[1]["score"] == items[2]["score"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"sort": "score"}, [NINH_LAI, BAC, DONG]),
        ({"sort": "village_code"}, [NINH_LAI, BAC, DONG]),
        ({"status": "met"}, [DONG]),
        ({"status": "not_met"}, [NINH_LAI, BAC]),
    ],
    ids=["ascending", "by-code", "only-met", "only-not-met"],
)
def test_province_ranking_sort_and_filter(
    client: TestClient, params: dict[str, str], expected: list[str]
) -> None:
    _three_villages(client)
    items = client.get(f"{V}/units/37/scores", params=params).json()["items"]
    assert [i["village_code"] for i in items] == expected
    assert [i["rank"] for i in items] == list(range(1, len(expected) + 1))


def test_ranking_pages_keep_rank_positions(client: TestClient) -> None:
    _three_villages(client)
    first = client.get(f"{V}/units/37/scores", params={"limit": 2}).json()
    second = client.get(
        f"{V}/units/37/scores", params={"limit": 2, "cursor": first["next_cursor"]}
    ).json()
    ranks = [(i["rank"], i["village_code"]) for i in first["items"] + second["items"]]
    assert ranks == [(1, DONG), (2, NINH_LAI), (3, BAC)]
    assert second["next_cursor"] is None


def test_commune_ranking_covers_only_its_villages(client: TestClient) -> None:
    _three_villages(client)
    items = client.get(f"{V}/units/13402/scores").json()["items"]
    assert [i["village_code"] for i in items] == [DONG, BAC]


def test_ranking_bad_sort_and_cursor_are_refused(client: TestClient) -> None:
    assert client.get(f"{V}/units/37/scores", params={"sort": "name"}).status_code == 422
    bad = client.get(f"{V}/units/37/scores", params={"cursor": "garbage"})
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "cursor"


def test_ranking_of_unknown_unit_returns_404(client: TestClient) -> None:
    assert client.get(f"{V}/units/99/scores").status_code == 404


def test_ranking_honours_if_none_match(client: TestClient) -> None:
    _three_villages(client)
    first = client.get(f"{V}/units/37/scores")
    assert (
        client.get(
            f"{V}/units/37/scores", headers={"If-None-Match": first.headers["etag"]}
        ).status_code
        == 304
    )
    put_values(client, BAC, "2026Q1", ha_nam_values())
    assert (
        client.get(
            f"{V}/units/37/scores", headers={"If-None-Match": first.headers["etag"]}
        ).status_code
        == 200
    )


def test_province_summary_counts_and_indicator_rates(client: TestClient) -> None:
    _three_villages(client)
    response = client.get(f"{V}/units/37/summary")
    assert response.status_code == 200
    summary = response.json()
    assert {k: v for k, v in summary.items() if k != "indicators"} == {
        "unit_code": "37",
        "period": "2026Q1",
        "villages_total": 3,
        "villages_reported": 3,
        "villages_met": 1,
        "communes_total": 2,
        "communes_with_smart_village": 1,
    }
    fibre = next(i for i in summary["indicators"] if i["code"] == "HTS.1.1")
    assert fibre["mean"] == 61.67  # (85 + 50 + 50) / 3
    assert fibre["pass_rate"] == 0.3333
    assert len(summary["indicators"]) == 19


def test_commune_summary_counts_one_commune(client: TestClient) -> None:
    _three_villages(client)
    summary = client.get(f"{V}/units/13393/summary", params={"period": "2026Q1"}).json()
    assert (summary["villages_total"], summary["villages_reported"], summary["villages_met"]) == (
        1,
        1,
        0,
    )
    assert (summary["communes_total"], summary["communes_with_smart_village"]) == (1, 0)


def test_summary_not_applicable_values_are_left_out_of_rates(client: TestClient) -> None:
    put_values(
        client, DONG, "2026Q1", ha_nam_values() | {"outlets_total": 0, "outlets_accepting_qr": 0}
    )
    put_values(client, BAC, "2026Q1", ha_nam_values() | {"outlets_accepting_qr": 6})
    summary = client.get(f"{V}/units/13402/summary").json()
    qr = next(i for i in summary["indicators"] if i["code"] == "KTS.1.1")
    assert (qr["mean"], qr["pass_rate"], qr["villages"]) == (50.0, 0.0, 1)


def test_summary_without_scores_returns_404(client: TestClient) -> None:
    response = client.get(f"{V}/units/37/summary")
    assert response.status_code == 404
