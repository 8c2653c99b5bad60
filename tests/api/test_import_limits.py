"""Imports that cannot blow up: oversized cells and numbers, text a database refuses, too
many rows, and the approved lock — each a 422 naming row and column, and nothing stored."""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update

from api.infra.settings import Settings
from api.services import submission_import
from models.submissions import Submission
from tests.api.conftest import V, ha_nam_values, put_values

UNITS = f"{V}/units/import"
SUBMISSIONS = f"{V}/submissions/import"
UNIT_HEADER = "code,name,level,parent_code,lat,lon\n"
DONG, BAC = "37-13402-DONG", "37-13402-BAC"
BIG = "1" * 5000


def _post(client: TestClient, url: str, body: bytes | str, media: str) -> Any:
    content = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    return client.post(url, content=content, headers={"Content-Type": media})


def _errors(response: Any) -> list[tuple[int, str | None, str]]:
    return [(e["row"], e["column"], e["code"]) for e in response.json()["errors"]]


def _assert_refused(response: Any, errors: list[tuple[int, str | None, str]]) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert _errors(response) == errors
    assert (response.json()["created"], response.json()["updated"]) == (0, 0)


def _submissions_csv(cells: dict[str, str], village: str = DONG) -> str:
    header = ["village_code", "period", "households_total", "households_with_fibre"]
    row = {
        "village_code": village,
        "period": "2026Q1",
        "households_total": "200",
        "households_with_fibre": "170",
    } | cells
    return ",".join(header) + "\n" + ",".join(row[h] for h in header) + "\n"


def _no_units(client: TestClient) -> None:
    assert client.get(f"{V}/units").json()["items"] == []


def _no_submission(client: TestClient, village: str = DONG) -> None:
    assert client.get(f"{V}/villages/{village}/submissions/2026Q1").status_code == 404


class TestOversizedCells:
    def test_unit_csv_cell_over_field_limit_returns_422_naming_row_and_column(self, client):
        body = UNIT_HEADER + "35,Hà Nam,province,,,\n" + f"13500,{'x' * 131_073},commune,35,,\n"
        response = _post(client, UNITS, body, "text/csv")
        _assert_refused(response, [(2, "name", "field_too_large")])
        assert "131072" in response.json()["errors"][0]["message"]
        _no_units(client)

    @pytest.mark.usefixtures("tree", "reference")
    def test_submission_csv_cell_over_field_limit_returns_422(self, client: TestClient):
        body = _submissions_csv({"households_with_fibre": '"' + "1" * 131_073 + '"'})
        response = _post(client, SUBMISSIONS, body, "text/csv")
        _assert_refused(response, [(1, "households_with_fibre", "field_too_large")])
        _no_submission(client)

    def test_unit_csv_cell_at_field_limit_is_read(self, client: TestClient):
        body = UNIT_HEADER + f"35,Hà Nam,province,,{'1' * 131_072},\n"
        response = _post(client, UNITS, body, "text/csv")
        assert _errors(response) == [(1, "lat", "less_than_equal")]


class TestOversizedNumbers:
    @pytest.mark.usefixtures("tree", "reference")
    def test_submission_json_5000_digit_integer_returns_422_naming_measure(self, client):
        body = (
            f'[{{"village_code": "{BAC}", "period": "2026Q1", "values": {{}}}},'
            f'{{"village_code": "{DONG}", "period": "2026Q1",'
            f' "values": {{"households_total": {BIG}}}}}]'
        )
        response = _post(client, SUBMISSIONS, body, "application/json")
        _assert_refused(response, [(2, "households_total", "number_too_large")])
        _no_submission(client, BAC)

    @pytest.mark.usefixtures("tree", "reference")
    def test_submission_csv_5000_digit_integer_returns_422_naming_measure(self, client):
        response = _post(
            client, SUBMISSIONS, _submissions_csv({"households_total": BIG}), "text/csv"
        )
        _assert_refused(response, [(1, "households_total", "number_too_large")])
        _no_submission(client)

    @pytest.mark.parametrize(
        "number",
        [BIG, f"{BIG}.5", "1e999", f"-{BIG}"],
        ids=["integer", "decimal", "overflow", "negative"],
    )
    def test_unit_json_unreadable_number_returns_422_naming_field(self, client, number):
        body = f'[{{"code": "35", "name": "Hà Nam", "level": "province", "lat": {number}}}]'
        response = _post(client, UNITS, body, "application/json")
        _assert_refused(response, [(1, "lat", "number_too_large")])
        _no_units(client)

    def test_unit_json_number_as_whole_item_names_its_row(self, client: TestClient):
        body = f'[{{"code": "35", "name": "Hà Nam", "level": "province"}}, {BIG}]'
        response = _post(client, UNITS, body, "application/json")
        _assert_refused(response, [(2, None, "number_too_large")])


class TestTextTheDatabaseRefuses:
    @pytest.mark.parametrize(
        ("cell", "code"),
        [("Thôn\x00Đông", "nul_character"), ("Thôn \ud800", "unpaired_surrogate")],
        ids=["nul", "surrogate"],
    )
    def test_unit_csv_cell_returns_422_naming_row_and_column(self, client, cell, code):
        body = UNIT_HEADER + "35,Hà Nam,province,,,\n" + f"13500,{cell},commune,35,,\n"
        response = _post(client, UNITS, body, "text/csv")
        _assert_refused(response, [(2, "name", code)])
        _no_units(client)

    @pytest.mark.parametrize(
        ("escaped", "code"),
        [("\\u0000", "nul_character"), ("\\ud800", "unpaired_surrogate")],
        ids=["nul", "surrogate"],
    )
    def test_unit_json_string_returns_422_naming_row_and_field(self, client, escaped, code):
        body = (
            f'[{{"code": "35", "name": "Hà Nam", "level": "province"}},'
            f' {{"code": "13500", "name": "Xã {escaped}", "level": "commune"}}]'
        )
        response = _post(client, UNITS, body, "application/json")
        _assert_refused(response, [(2, "name", code)])
        _no_units(client)

    @pytest.mark.usefixtures("tree", "reference")
    @pytest.mark.parametrize(
        ("cell", "code"),
        [("V\x00", "nul_character"), ("\udc00", "unpaired_surrogate")],
        ids=["nul", "surrogate"],
    )
    def test_submission_csv_cell_returns_422_naming_column(self, client, cell, code):
        response = _post(client, SUBMISSIONS, _submissions_csv({"village_code": cell}), "text/csv")
        _assert_refused(response, [(1, "village_code", code)])

    @pytest.mark.usefixtures("tree", "reference")
    @pytest.mark.parametrize(
        ("values", "column"),
        [('{"\\ud800": 1}', "values"), ('{"households_total": "\\u0000"}', "households_total")],
        ids=["key", "value"],
    )
    def test_submission_json_string_returns_422_naming_column(self, client, values, column):
        body = f'[{{"village_code": "{DONG}", "period": "2026Q1", "values": {values}}}]'
        response = _post(client, SUBMISSIONS, body, "application/json")
        code = "unpaired_surrogate" if "ud800" in values else "nul_character"
        _assert_refused(response, [(1, column, code)])
        _no_submission(client)

    def test_invalid_utf8_is_a_whole_file_problem(self, client: TestClient):
        response = _post(client, UNITS, b'[{"code": "35", "name": "H\xff"}]', "application/json")
        _assert_refused(response, [(0, None, "invalid_encoding")])


class TestRowLimit:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(update={"csv_max_rows": 2})

    def test_csv_over_row_limit_returns_422_for_the_file(self, client: TestClient):
        body = (
            UNIT_HEADER
            + "35,Hà Nam,province,,,\n\n36,Hà Nội,province,,,\n37,Ninh Bình,province,,,\n"
        )
        response = _post(client, UNITS, body, "text/csv")
        _assert_refused(response, [(0, None, "too_many_rows")])
        assert "2 rows" in response.json()["errors"][0]["message"]
        _no_units(client)

    def test_csv_at_row_limit_is_imported(self, client: TestClient):
        body = UNIT_HEADER + "35,Hà Nam,province,,,\n\n36,Hà Nội,province,,,\n"
        assert _post(client, UNITS, body, "text/csv").json()["created"] == 2

    def test_json_over_row_limit_returns_422_for_the_file(self, client: TestClient):
        body = '[{"code": "35"}, {"code": "36"}, {"code": "37"}]'
        response = _post(client, UNITS, body, "application/json")
        _assert_refused(response, [(0, None, "too_many_rows")])


@pytest.mark.usefixtures("tree", "reference")
class TestApprovedLock:
    def test_import_over_approved_submission_leaves_it_unchanged(self, client: TestClient):
        put_values(client, DONG, "2026Q1", ha_nam_values())
        client.post(f"{V}/villages/{DONG}/submissions/2026Q1/approve", json={})
        before = client.get(f"{V}/villages/{DONG}/submissions/2026Q1").json()
        body = [
            {"village_code": BAC, "period": "2026Q1", "values": ha_nam_values()},
            {"village_code": DONG, "period": "2026Q1", "values": {"households_total": 10}},
        ]
        response = client.post(SUBMISSIONS, json=body)
        _assert_refused(response, [(2, None, "submission_locked")])
        assert client.get(f"{V}/villages/{DONG}/submissions/2026Q1").json() == before
        _no_submission(client, BAC)

    def test_approval_after_validation_is_seen_under_lock(self, client, db, monkeypatch):
        put_values(client, DONG, "2026Q1", ha_nam_values())
        _between_validation_and_lock(monkeypatch, db, status="approved")
        body = [
            {"village_code": BAC, "period": "2026Q1", "values": ha_nam_values()},
            {"village_code": DONG, "period": "2026Q1", "values": {"households_total": 10}},
        ]
        response = client.post(SUBMISSIONS, json=body)
        _assert_refused(response, [(2, None, "submission_locked")])
        dong = client.get(f"{V}/villages/{DONG}/submissions/2026Q1").json()
        assert (dong["status"], dong["revision"], dong["values"]) == (
            "approved",
            1,
            ha_nam_values(),
        )
        _no_submission(client, BAC)
        assert _import_events(client, DONG) == []

    def test_audit_before_is_the_state_replaced(self, client, db, monkeypatch):
        put_values(client, DONG, "2026Q1", ha_nam_values())
        revised = ha_nam_values() | {"households_with_fibre": 120}
        _between_validation_and_lock(monkeypatch, db, revision=2, values=revised)
        body = [{"village_code": DONG, "period": "2026Q1", "values": ha_nam_values()}]
        response = client.post(SUBMISSIONS, json=body)
        assert response.status_code == 200, response.text
        assert response.json()["updated"] == 1  # pass 1 saw it unchanged; the lock saw revision 2
        (event,) = _import_events(client, DONG)
        assert event["before"] == {"status": "submitted", "revision": 2, "values": revised}
        assert event["after"]["revision"] == 3


def _between_validation_and_lock(
    monkeypatch: pytest.MonkeyPatch, db: Engine, **columns: Any
) -> None:
    """Change the stored submissions from another connection just before the import takes
    the scoring lock: the window in which a reviewer's approval could slip in."""
    real = submission_import.scoring_lock

    async def late_write(session: Any, **kw: Any) -> None:
        with db.begin() as conn:
            conn.execute(update(Submission.__table__).values(**columns))
        await real(session, **kw)

    monkeypatch.setattr(submission_import, "scoring_lock", late_write)


def _import_events(client: TestClient, village: str) -> list[dict[str, Any]]:
    events = client.get(f"{V}/audit", params={"unit": village}).json()["items"]
    return [e for e in events if e["action"] == "submission.import"]


class TestStreamedBody:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(update={"max_import": 64 * 1024})

    def test_chunked_body_over_import_limit_returns_413_and_stores_nothing(self, client):
        def chunks() -> Any:
            yield UNIT_HEADER.encode()
            for n in range(5000):
                yield f"V{n},Thôn {n},village,13500,,\n".encode()

        response = client.post(UNITS, content=chunks(), headers={"Content-Type": "text/csv"})
        assert response.status_code == 413
        assert response.headers["content-type"] == "application/problem+json"
        _no_units(client)

    def test_chunked_body_under_import_limit_is_imported(self, client: TestClient):
        def chunks() -> Any:
            yield UNIT_HEADER.encode()
            yield "35,Hà Nam,province,,,\n".encode()

        response = client.post(UNITS, content=chunks(), headers={"Content-Type": "text/csv"})
        assert response.status_code == 200, response.text
        assert response.json()["created"] == 1


@pytest.mark.usefixtures("tree", "reference")
class TestSafeIntegers:
    """Numbers beyond what is stored are refused by the one rule a PUT uses (criteria.values)."""

    def test_json_integer_beyond_2_53_returns_422_out_of_range(self, client: TestClient):
        body = [{"village_code": DONG, "period": "2026Q1", "values": {"team_members": 2**53 + 1}}]
        response = client.post(SUBMISSIONS, json=body)
        _assert_refused(response, [(1, "team_members", "out_of_range")])
        _no_submission(client)

    def test_csv_integer_beyond_2_53_returns_422_out_of_range(self, client: TestClient):
        cells = {"households_total": "-" + "9" * 20}
        response = _post(client, SUBMISSIONS, _submissions_csv(cells), "text/csv")
        _assert_refused(response, [(1, "households_total", "out_of_range")])
