"""The review workflow (approve, return, reopen) and the review queue, over HTTP."""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.accounts import bearer, make_user
from tests.api.conftest import V, ha_nam_values, put_values

pytestmark = pytest.mark.usefixtures("tree", "reference")
PROBLEM = "application/problem+json"
DONG, BAC, NINH_LAI, PAN = "37-13402-DONG", "37-13402-BAC", "37-13393-01", "15-04000-01"
PERIOD = "2026Q1"
URL = f"{V}/villages/{DONG}/submissions/{PERIOD}"


def _review(
    client: TestClient, action: str, headers: dict[str, str], comment: str | None = None, **kw: Any
) -> Any:
    village = kw.pop("village", DONG)
    return client.post(
        f"{V}/villages/{village}/submissions/{PERIOD}/{action}",
        json={"comment": comment},
        headers=headers,
    )


def _changed(fibre: int) -> dict[str, Any]:
    return ha_nam_values() | {"households_with_fibre": fibre}


def test_put_as_village_head_returns_201_submitted(
    client: TestClient, head: dict[str, str]
) -> None:
    response = put_values(client, DONG, PERIOD, ha_nam_values(), headers=head)
    assert response.status_code == 201
    assert response.json()["status"] == "submitted"
    assert response.json()["submitted_by"] == "head-dong"
    assert response.json()["reviewed_by"] is None


def test_approve_as_reviewer_returns_200_approved_with_same_revision(
    client: TestClient, head: dict[str, str], reviewer: dict[str, str]
) -> None:
    put_etag = put_values(client, DONG, PERIOD, ha_nam_values(), headers=head).headers["etag"]
    response = _review(client, "approve", reviewer, "looks right")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "approved"
    assert body["revision"] == 1
    assert body["reviewed_by"] == "rev-37"
    current = client.get(URL, headers=head)
    assert current.json()["status"] == "approved"
    assert current.headers["etag"] != put_etag
    revisions = client.get(f"{URL}/revisions", headers=head).json()["items"]
    assert [r["revision"] for r in revisions] == [1]


def test_approve_updates_score_submission_status(
    client: TestClient, head: dict[str, str], reviewer: dict[str, str]
) -> None:
    put_values(client, DONG, PERIOD, ha_nam_values(), headers=head)
    _review(client, "approve", reviewer)
    score = client.get(f"{V}/villages/{DONG}/score", headers=head).json()
    assert score["submission"] == {"status": "approved", "revision": 1}


def test_put_approved_as_village_head_returns_409_submission_locked(
    client: TestClient, head: dict[str, str], reviewer: dict[str, str]
) -> None:
    put_values(client, DONG, PERIOD, ha_nam_values(), headers=head)
    _review(client, "approve", reviewer)
    response = put_values(client, DONG, PERIOD, _changed(150), headers=head)
    assert response.status_code == 409
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"].endswith("/problems/submission-locked")
    current = client.get(URL, headers=head).json()
    assert (current["status"], current["revision"]) == ("approved", 1)
    assert current["values"]["households_with_fibre"] == 170


def test_put_approved_as_admin_returns_409_submission_locked(
    client: TestClient, head: dict[str, str], reviewer: dict[str, str]
) -> None:
    put_values(client, DONG, PERIOD, ha_nam_values(), headers=head)
    _review(client, "approve", reviewer)
    response = put_values(client, DONG, PERIOD, _changed(150))
    assert response.status_code == 409
    assert response.json()["type"].endswith("/problems/submission-locked")


def test_reopen_then_put_as_village_head_makes_revision_2(
    client: TestClient, head: dict[str, str], reviewer: dict[str, str]
) -> None:
    put_values(client, DONG, PERIOD, ha_nam_values(), headers=head)
    _review(client, "approve", reviewer)
    reopened = _review(client, "reopen", reviewer)
    assert reopened.status_code == 200
    assert reopened.json()["status"] == "submitted"
    assert reopened.json()["revision"] == 1
    response = put_values(client, DONG, PERIOD, _changed(150), headers=head)
    assert response.status_code == 200
    assert response.json()["status"] == "submitted"
    assert response.json()["revision"] == 2
    assert response.json()["reviewed_by"] is None
    revisions = client.get(f"{URL}/revisions", headers=head).json()["items"]
    assert [r["revision"] for r in revisions] == [1, 2]


@pytest.mark.parametrize(
    "comment", [None, "", "   ", "\t\n"], ids=["null", "empty", "spaces", "tab-newline"]
)
def test_return_without_comment_returns_422_naming_comment(
    client: TestClient, head: dict[str, str], reviewer: dict[str, str], comment: str | None
) -> None:
    put_values(client, DONG, PERIOD, ha_nam_values(), headers=head)
    response = _review(client, "return", reviewer, comment)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert [e["field"] for e in response.json()["errors"]] == ["comment"]
    assert client.get(URL, headers=head).json()["status"] == "submitted"


def test_return_with_comment_sets_status_and_comment_then_put_resubmits(
    client: TestClient, head: dict[str, str], reviewer: dict[str, str]
) -> None:
    put_values(client, DONG, PERIOD, ha_nam_values(), headers=head)
    returned = _review(client, "return", reviewer, "  Count the fibre households again.  ")
    assert returned.status_code == 200
    assert returned.json()["status"] == "returned"
    assert returned.json()["revision"] == 1
    assert returned.json()["review_comment"] == "Count the fibre households again."
    assert returned.json()["reviewed_by"] == "rev-37"
    seen = client.get(URL, headers=head).json()
    assert (seen["status"], seen["review_comment"]) == (
        "returned",
        returned.json()["review_comment"],
    )
    response = put_values(client, DONG, PERIOD, _changed(165), headers=head)
    assert response.status_code == 200
    assert response.json()["status"] == "submitted"
    assert response.json()["revision"] == 2


def test_put_same_values_after_return_resubmits(
    client: TestClient, head: dict[str, str], reviewer: dict[str, str]
) -> None:
    put_values(client, DONG, PERIOD, ha_nam_values(), headers=head)
    _review(client, "return", reviewer, "Attach the evidence.")
    response = put_values(client, DONG, PERIOD, ha_nam_values(), headers=head)
    assert response.status_code == 200
    assert response.json()["status"] == "submitted"


@pytest.mark.parametrize(
    ("steps", "action"),
    [
        (["approve"], "approve"),
        (["approve"], "return"),
        (["return"], "approve"),
        (["return"], "return"),
        ([], "reopen"),
        (["approve", "reopen"], "reopen"),
    ],
    ids=[
        "approve-approved",
        "return-approved",
        "approve-returned",
        "return-returned",
        "reopen-submitted",
        "reopen-reopened",
    ],
)
def test_review_from_wrong_status_returns_409(
    client: TestClient,
    head: dict[str, str],
    reviewer: dict[str, str],
    steps: list[str],
    action: str,
) -> None:
    put_values(client, DONG, PERIOD, ha_nam_values(), headers=head)
    for step in steps:
        assert _review(client, step, reviewer, "why").status_code == 200
    before = client.get(URL, headers=head).json()
    response = _review(client, action, reviewer, "why")
    assert response.status_code == 409
    assert response.headers["content-type"] == PROBLEM
    assert client.get(URL, headers=head).json() == before


def test_review_without_submission_returns_404(
    client: TestClient, reviewer: dict[str, str]
) -> None:
    response = _review(client, "approve", reviewer)
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM


def test_put_with_etag_from_before_approve_and_reopen_returns_412(
    client: TestClient, head: dict[str, str], reviewer: dict[str, str]
) -> None:
    etag = put_values(client, DONG, PERIOD, ha_nam_values(), headers=head).headers["etag"]
    _review(client, "approve", reviewer)
    _review(client, "reopen", reviewer)
    response = put_values(client, DONG, PERIOD, _changed(150), headers=head | {"If-Match": etag})
    assert response.status_code == 412
    assert response.headers["content-type"] == PROBLEM
    assert client.get(URL, headers=head).json()["revision"] == 1


def test_put_with_etag_from_before_return_returns_412(
    client: TestClient, head: dict[str, str], reviewer: dict[str, str]
) -> None:
    etag = put_values(client, DONG, PERIOD, ha_nam_values(), headers=head).headers["etag"]
    _review(client, "return", reviewer, "Recount.")
    response = put_values(client, DONG, PERIOD, _changed(150), headers=head | {"If-Match": etag})
    assert response.status_code == 412
    assert client.get(URL, headers=head).json()["status"] == "returned"


def test_put_with_current_etag_after_reopen_returns_200(
    client: TestClient, head: dict[str, str], reviewer: dict[str, str]
) -> None:
    put_values(client, DONG, PERIOD, ha_nam_values(), headers=head)
    _review(client, "approve", reviewer)
    _review(client, "reopen", reviewer)
    etag = client.get(URL, headers=head).headers["etag"]
    response = put_values(client, DONG, PERIOD, _changed(150), headers=head | {"If-Match": etag})
    assert response.status_code == 200
    assert response.json()["revision"] == 2


def test_put_as_reviewer_returns_403(client: TestClient, reviewer: dict[str, str]) -> None:
    response = put_values(client, DONG, PERIOD, ha_nam_values(), headers=reviewer)
    assert response.status_code == 403
    assert response.headers["content-type"] == PROBLEM
    assert client.get(URL).status_code == 404


@pytest.mark.parametrize("action", ["approve", "return", "reopen"])
def test_review_as_village_head_returns_403(
    client: TestClient, head: dict[str, str], action: str
) -> None:
    put_values(client, DONG, PERIOD, ha_nam_values(), headers=head)
    if action == "reopen":
        client.post(f"{URL}/approve", json={})
    before = client.get(URL).json()
    response = _review(client, action, head, "my own")
    assert response.status_code == 403
    assert response.headers["content-type"] == PROBLEM
    assert client.get(URL).json() == before


def test_approve_as_admin_returns_200_with_admin_as_reviewer(
    client: TestClient, head: dict[str, str]
) -> None:
    put_values(client, DONG, PERIOD, ha_nam_values(), headers=head)
    response = client.post(f"{URL}/approve", json={})
    assert response.status_code == 200
    assert response.json()["reviewed_by"] == "root"


def test_approve_as_commune_reviewer_of_own_commune_returns_200(
    client: TestClient, db: Engine
) -> None:
    reviewer = bearer(make_user(db, "rev-13393", "reviewer", "13393"))
    put_values(client, NINH_LAI, PERIOD, ha_nam_values())
    assert _review(client, "approve", reviewer, village=NINH_LAI).status_code == 200
    assert _review(client, "approve", reviewer, village=DONG).status_code == 403


# The review queue.


def _queue(client: TestClient, headers: dict[str, str], **params: Any) -> Any:
    return client.get(f"{V}/submissions", params=params, headers=headers)


def _villages(response: Any) -> list[str]:
    return [item["village_code"] for item in response.json()["items"]]


@pytest.fixture
def submitted(client: TestClient, tree: dict[str, int], reference: Any) -> None:
    """Submissions in both provinces; Bắc's is approved."""
    for village in (DONG, BAC, NINH_LAI, PAN):
        assert put_values(client, village, PERIOD, ha_nam_values()).status_code == 201
    assert (
        client.post(f"{V}/villages/{BAC}/submissions/{PERIOD}/approve", json={}).status_code == 200
    )


@pytest.mark.usefixtures("submitted")
def test_list_submissions_as_province_reviewer_lists_only_own_province(
    client: TestClient, reviewer: dict[str, str]
) -> None:
    response = _queue(client, reviewer, status="submitted")
    assert response.status_code == 200
    assert sorted(_villages(response)) == sorted([DONG, NINH_LAI])
    assert all(item["status"] == "submitted" for item in response.json()["items"])
    everything = _queue(client, reviewer)
    assert sorted(_villages(everything)) == sorted([BAC, DONG, NINH_LAI])


@pytest.mark.usefixtures("submitted")
def test_list_submissions_as_admin_lists_every_province(client: TestClient) -> None:
    assert sorted(_villages(_queue(client, {}, status="submitted"))) == sorted(
        [DONG, NINH_LAI, PAN]
    )
    assert _villages(_queue(client, {}, status="approved")) == [BAC]


@pytest.mark.usefixtures("submitted")
def test_list_submissions_with_unit_filters_subtree(
    client: TestClient, reviewer: dict[str, str]
) -> None:
    assert sorted(_villages(_queue(client, reviewer, unit="13402"))) == sorted([BAC, DONG])
    assert _villages(_queue(client, reviewer, unit="13393")) == [NINH_LAI]
    assert _villages(_queue(client, reviewer, unit=DONG)) == [DONG]


@pytest.mark.usefixtures("submitted")
def test_list_submissions_as_commune_reviewer_lists_only_own_commune(
    client: TestClient, db: Engine
) -> None:
    reviewer = bearer(make_user(db, "rev-13393", "reviewer", "13393"))
    assert _villages(_queue(client, reviewer)) == [NINH_LAI]
    assert _queue(client, reviewer, unit="13402").status_code == 403
    assert _queue(client, reviewer, unit="37").status_code == 403


@pytest.mark.usefixtures("submitted")
@pytest.mark.parametrize("unit", ["15", "04000", PAN], ids=["province", "commune", "village"])
def test_list_submissions_other_province_as_reviewer_returns_403(
    client: TestClient, reviewer: dict[str, str], unit: str
) -> None:
    response = _queue(client, reviewer, unit=unit)
    assert response.status_code == 403
    assert response.headers["content-type"] == PROBLEM


def test_list_submissions_unknown_unit_returns_404(
    client: TestClient, reviewer: dict[str, str]
) -> None:
    assert _queue(client, reviewer, unit="99").status_code == 404


def test_list_submissions_as_village_head_returns_403(
    client: TestClient, head: dict[str, str]
) -> None:
    response = _queue(client, head, unit=DONG)
    assert response.status_code == 403
    assert response.headers["content-type"] == PROBLEM


def test_list_submissions_with_period_filters_period(
    client: TestClient, reviewer: dict[str, str]
) -> None:
    put_values(client, DONG, "2025Q4", ha_nam_values())
    put_values(client, DONG, PERIOD, ha_nam_values())
    put_values(client, BAC, "2025Q4", ha_nam_values())
    response = _queue(client, reviewer, period="2025Q4")
    assert response.status_code == 200
    assert sorted(_villages(response)) == sorted([BAC, DONG])
    assert {item["period"] for item in response.json()["items"]} == {"2025Q4"}
    assert [i["period"] for i in _queue(client, reviewer, period=PERIOD).json()["items"]] == [
        PERIOD
    ]


def test_list_submissions_with_bad_status_or_period_returns_422(
    client: TestClient, reviewer: dict[str, str]
) -> None:
    bad_status = _queue(client, reviewer, status="pending")
    assert bad_status.status_code == 422
    assert [e["field"] for e in bad_status.json()["errors"]] == ["status"]
    bad_period = _queue(client, reviewer, period="2026Q9")
    assert bad_period.status_code == 422
    assert [e["field"] for e in bad_period.json()["errors"]] == ["period"]


@pytest.mark.usefixtures("submitted")
def test_list_submissions_pages_with_limit_1(client: TestClient, reviewer: dict[str, str]) -> None:
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        params: dict[str, Any] = {"limit": 1} | ({"cursor": cursor} if cursor else {})
        page = _queue(client, reviewer, **params)
        assert page.status_code == 200
        assert len(page.json()["items"]) <= 1
        seen += _villages(page)
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted([BAC, DONG, NINH_LAI])
    assert cursor is None
