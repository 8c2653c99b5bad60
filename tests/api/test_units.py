"""Units: list, search, read, create, change."""

import unicodedata

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.api.conftest import ha_nam_values, put_values
from tests.factories import TREE, make_tree, make_unit

UNITS = "/api/v1/units"
PROBLEM = "application/problem+json"


def codes(response) -> list[str]:
    return [item["code"] for item in response.json()["items"]]


def error_fields(response) -> set[str]:
    return {e["field"] for e in response.json()["errors"]}


class TestListUnits:
    def test_list_without_filters_returns_all_ordered_by_code(self, client: TestClient, db: Engine):
        make_tree(db)
        response = client.get(UNITS)
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        assert codes(response) == sorted(code for code, *_ in TREE)
        assert response.json()["next_cursor"] is None

    def test_list_with_level_returns_only_that_level(self, client: TestClient, db: Engine):
        make_tree(db)
        response = client.get(UNITS, params={"level": "commune"})
        assert response.status_code == 200
        assert codes(response) == ["04000", "13393", "13402"]

    def test_list_with_parent_returns_direct_children_only(self, client: TestClient, db: Engine):
        make_tree(db)
        response = client.get(UNITS, params={"parent": "37"})
        assert response.status_code == 200
        assert codes(response) == ["13393", "13402"]

    def test_list_with_parent_and_level_combines_filters(self, client: TestClient, db: Engine):
        make_tree(db)
        response = client.get(UNITS, params={"parent": "13402", "level": "village"})
        assert codes(response) == ["37-13402-BAC", "37-13402-DONG"]

    def test_list_with_unknown_parent_returns_404(self, client: TestClient, db: Engine):
        make_tree(db)
        response = client.get(UNITS, params={"parent": "99"})
        assert response.status_code == 404
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["status"] == 404

    def test_list_with_bad_level_returns_422_naming_level(self, client: TestClient):
        response = client.get(UNITS, params={"level": "district"})
        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM
        assert error_fields(response) == {"level"}

    def test_list_with_limit_over_max_returns_422_naming_limit(self, client: TestClient):
        response = client.get(UNITS, params={"limit": 501})
        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM
        assert error_fields(response) == {"limit"}

    def test_list_paged_by_two_visits_every_unit_once(self, client: TestClient, db: Engine):
        make_tree(db)
        seen: list[str] = []
        cursor = None
        for _ in range(10):
            params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
            response = client.get(UNITS, params=params)
            assert response.status_code == 200
            page = response.json()
            assert len(page["items"]) <= 2
            seen += [item["code"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert cursor is None
        assert seen == sorted(code for code, *_ in TREE)

    def test_list_paged_with_filter_keeps_filter(self, client: TestClient, db: Engine):
        make_tree(db)
        first = client.get(UNITS, params={"level": "village", "limit": 3}).json()
        second = client.get(
            UNITS, params={"level": "village", "limit": 3, "cursor": first["next_cursor"]}
        ).json()
        assert [i["code"] for i in first["items"] + second["items"]] == [
            "15-04000-01",
            "37-13393-01",
            "37-13402-BAC",
            "37-13402-DONG",
        ]
        assert second["next_cursor"] is None

    @pytest.mark.parametrize("cursor", ["garbage!", "eyJ4IjoxfQ", "eyJjb2RlIjoxfQ"])
    def test_list_with_bad_cursor_returns_400(self, client: TestClient, cursor: str):
        response = client.get(UNITS, params={"cursor": cursor})
        assert response.status_code == 400
        assert response.headers["content-type"] == PROBLEM
        assert error_fields(response) == {"cursor"}

    def test_list_items_carry_path_and_parent(self, client: TestClient, db: Engine):
        make_tree(db)
        items = {i["code"]: i for i in client.get(UNITS).json()["items"]}
        assert items["37-13402-DONG"] == {
            "code": "37-13402-DONG",
            "name": "Thôn Đông",
            "level": "village",
            "parent_code": "13402",
            "lat": None,
            "lon": None,
            "path": [
                {"code": "37", "name": "Ninh Bình", "level": "province"},
                {"code": "13402", "name": "Phường Kim Thanh", "level": "commune"},
            ],
        }
        assert items["13393"]["path"] == [{"code": "37", "name": "Ninh Bình", "level": "province"}]
        assert items["15"]["path"] == []
        assert items["15"]["parent_code"] is None


class TestSearchUnits:
    def test_search_without_diacritics_finds_name_with_them(self, client: TestClient, db: Engine):
        make_unit(db, "35", "Hà Nam", "province")
        make_unit(db, "13500", "Xã Hoàng Tây", "commune", "35")
        response = client.get(UNITS, params={"q": "hoang tay"})
        assert response.status_code == 200
        assert codes(response) == ["13500"]

    def test_search_with_d_finds_d_stroke(self, client: TestClient, db: Engine):
        make_tree(db)
        assert codes(client.get(UNITS, params={"q": "thon dong"})) == ["37-13402-DONG"]

    def test_search_in_uppercase_finds_name(self, client: TestClient, db: Engine):
        make_tree(db)
        assert codes(client.get(UNITS, params={"q": "DONG"})) == ["37-13402-DONG"]

    def test_search_decomposed_query_finds_composed_name(self, client: TestClient, db: Engine):
        make_tree(db)
        query = unicodedata.normalize("NFD", "Thôn Đông")
        assert query != "Thôn Đông"
        assert codes(client.get(UNITS, params={"q": query})) == ["37-13402-DONG"]

    def test_search_by_code_prefix_finds_units(self, client: TestClient, db: Engine):
        make_tree(db)
        assert codes(client.get(UNITS, params={"q": "37-13402"})) == [
            "37-13402-BAC",
            "37-13402-DONG",
        ]

    def test_search_with_like_wildcards_matches_literally(self, client: TestClient, db: Engine):
        make_tree(db)
        assert codes(client.get(UNITS, params={"q": "%"})) == []
        assert codes(client.get(UNITS, params={"q": "_"})) == []


class TestGetUnit:
    def test_get_village_returns_path_from_province(self, client: TestClient, db: Engine):
        make_tree(db)
        response = client.get(f"{UNITS}/37-13393-01")
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        body = response.json()
        assert body["name"] == "Thôn Ninh Lai"
        assert body["parent_code"] == "13393"
        assert [p["code"] for p in body["path"]] == ["37", "13393"]

    def test_get_unknown_code_returns_404(self, client: TestClient):
        response = client.get(f"{UNITS}/nope")
        assert response.status_code == 404
        assert response.headers["content-type"] == PROBLEM

    def test_get_with_matching_etag_returns_304(self, client: TestClient, db: Engine):
        make_tree(db)
        first = client.get(f"{UNITS}/37")
        second = client.get(f"{UNITS}/37", headers={"If-None-Match": first.headers["etag"]})
        assert second.status_code == 304


class TestCreateUnit:
    @pytest.mark.parametrize(
        ("body", "parent"),
        [
            ({"code": "01", "name": "Hà Nội", "level": "province"}, None),
            ({"code": "00004", "name": "Phường Ba Đình", "level": "commune"}, "37"),
            ({"code": "v.1_A-b", "name": "Thôn Mới", "level": "village", "lat": 20.25}, "13402"),
        ],
        ids=["province", "commune", "village"],
    )
    def test_create_each_level_returns_201(self, client, db, body, parent):
        make_tree(db)
        response = client.post(UNITS, json=body | {"parent_code": parent})
        assert response.status_code == 201
        assert response.headers["content-type"] == "application/json"
        created = response.json()
        assert created["code"] == body["code"]
        assert created["parent_code"] == parent
        assert created["lat"] == body.get("lat")
        assert client.get(f"{UNITS}/{body['code']}").json() == created

    def test_create_village_fills_path(self, client: TestClient, db: Engine):
        make_tree(db)
        body = {"code": "X1", "name": "Thôn X", "level": "village", "parent_code": "04000"}
        response = client.post(UNITS, json=body)
        assert [p["code"] for p in response.json()["path"]] == ["15", "04000"]
        listed = client.get(UNITS, params={"parent": "04000"})
        assert codes(listed) == ["15-04000-01", "X1"]

    def test_create_duplicate_code_returns_409(self, client: TestClient, db: Engine):
        make_tree(db)
        response = client.post(UNITS, json={"code": "37", "name": "Again", "level": "province"})
        assert response.status_code == 409
        assert response.headers["content-type"] == PROBLEM

    @pytest.mark.parametrize(
        ("level", "code"),
        [
            ("province", "1"),
            ("province", "A1"),
            ("commune", "1340"),
            ("commune", "١٣٤٠٢"),
            ("commune", "134021"),
            ("village", "has space"),
            ("village", "x" * 33),
            ("village", "Đông"),
        ],
    )
    def test_create_with_bad_code_returns_422_naming_code(self, client, db, level, code):
        make_tree(db)
        parent = {"province": None, "commune": "37", "village": "13402"}[level]
        body = {"code": code, "name": "N", "level": level, "parent_code": parent}
        response = client.post(UNITS, json=body)
        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM
        assert error_fields(response) == {"code"}

    @pytest.mark.parametrize(
        ("level", "code", "parent", "error"),
        [
            ("commune", "11111", "13402", "parent_wrong_level"),
            ("village", "V9", "37", "parent_wrong_level"),
            ("village", "V9", "37-13402-BAC", "parent_wrong_level"),
            ("village", "V9", "99999", "parent_not_found"),
            ("village", "V9", None, "parent_required"),
            ("province", "99", "37", "parent_not_allowed"),
        ],
    )
    def test_create_with_unfit_parent_returns_422_naming_parent_code(
        self, client, db, level, code, parent, error
    ):
        make_tree(db)
        body = {"code": code, "name": "N", "level": level, "parent_code": parent}
        response = client.post(UNITS, json=body)
        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM
        assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [
            ("parent_code", error)
        ]
        assert client.get(f"{UNITS}/{code}").status_code == 404

    def test_create_with_decomposed_name_stores_nfc(self, client: TestClient, db: Engine):
        make_tree(db)
        name = unicodedata.normalize("NFD", "Thôn Đoài")
        body = {"code": "DOAI", "name": name, "level": "village", "parent_code": "13402"}
        assert client.post(UNITS, json=body).json()["name"] == "Thôn Đoài"
        assert client.get(f"{UNITS}/DOAI").json()["name"] == "Thôn Đoài"


class TestUpdateUnit:
    def test_patch_name_refolds_search(self, client: TestClient, db: Engine):
        make_tree(db)
        response = client.patch(f"{UNITS}/37-13402-DONG", json={"name": "Thôn Hoàng Tây"})
        assert response.status_code == 200
        assert response.json()["name"] == "Thôn Hoàng Tây"
        assert codes(client.get(UNITS, params={"q": "hoang tay"})) == ["37-13402-DONG"]
        assert codes(client.get(UNITS, params={"q": "thon dong"})) == []

    def test_patch_lat_lon_keeps_other_fields(self, client: TestClient, db: Engine):
        make_tree(db)
        response = client.patch(f"{UNITS}/37-13402-BAC", json={"lat": 20.25, "lon": 105.97})
        assert response.status_code == 200
        body = response.json()
        assert (body["name"], body["lat"], body["lon"]) == ("Thôn Bắc", 20.25, 105.97)
        assert body["parent_code"] == "13402"

    def test_patch_village_parent_moves_it(self, client: TestClient, db: Engine):
        make_tree(db)
        response = client.patch(f"{UNITS}/37-13402-DONG", json={"parent_code": "04000"})
        assert response.status_code == 200
        assert [p["code"] for p in response.json()["path"]] == ["15", "04000"]
        assert codes(client.get(UNITS, params={"parent": "04000"})) == [
            "15-04000-01",
            "37-13402-DONG",
        ]
        assert codes(client.get(UNITS, params={"parent": "13402"})) == ["37-13402-BAC"]

    def test_patch_commune_parent_moves_its_villages(self, client: TestClient, db: Engine):
        make_tree(db)
        response = client.patch(f"{UNITS}/13402", json={"parent_code": "15"})
        assert response.status_code == 200
        assert response.json()["path"] == [{"code": "15", "name": "Lào Cai", "level": "province"}]
        village = client.get(f"{UNITS}/37-13402-BAC").json()
        assert [p["code"] for p in village["path"]] == ["15", "13402"]

    def test_patch_parent_of_wrong_level_returns_422(self, client: TestClient, db: Engine):
        make_tree(db)
        response = client.patch(f"{UNITS}/37-13402-DONG", json={"parent_code": "15"})
        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM
        assert error_fields(response) == {"parent_code"}
        assert client.get(f"{UNITS}/37-13402-DONG").json()["parent_code"] == "13402"

    def test_patch_null_name_returns_422_naming_name(self, client: TestClient, db: Engine):
        make_tree(db)
        response = client.patch(f"{UNITS}/37", json={"name": None})
        assert response.status_code == 422
        assert error_fields(response) == {"name"}

    def test_patch_unknown_code_returns_404(self, client: TestClient):
        response = client.patch(f"{UNITS}/nope", json={"name": "X"})
        assert response.status_code == 404
        assert response.headers["content-type"] == PROBLEM


@pytest.mark.usefixtures("tree", "reference")
class TestMoveCarriesScores:
    """Rankings and summaries read the score tables' own province/commune columns."""

    def _summary(self, client: TestClient, code: str) -> dict:
        response = client.get(f"{UNITS}/{code}/summary", params={"period": "2026Q1"})
        assert response.status_code == 200
        return response.json()

    def test_patch_moving_village_moves_its_scores(self, client: TestClient):
        assert put_values(client, "37-13402-DONG", "2026Q1", ha_nam_values()).status_code == 201
        response = client.patch(f"{UNITS}/37-13402-DONG", json={"parent_code": "04000"})
        assert response.status_code == 200
        assert self._summary(client, "37")["villages_reported"] == 0
        moved = self._summary(client, "04000")
        assert moved["villages_reported"] == 1
        assert moved["indicators"][0]["villages"] == 1
        ranking = client.get(f"{UNITS}/15/scores", params={"period": "2026Q1"}).json()
        assert [(i["village_code"], i["commune_code"]) for i in ranking["items"]] == [
            ("37-13402-DONG", "04000")
        ]

    def test_patch_moving_commune_moves_its_villages_scores(self, client: TestClient):
        assert put_values(client, "37-13402-BAC", "2026Q1", ha_nam_values()).status_code == 201
        assert client.patch(f"{UNITS}/13402", json={"parent_code": "15"}).status_code == 200
        assert self._summary(client, "37")["villages_reported"] == 0
        lao_cai = self._summary(client, "15")
        assert lao_cai["villages_reported"] == 1
        assert lao_cai["indicators"][0]["villages"] == 1

    def test_import_moving_village_moves_its_scores(self, client: TestClient):
        assert put_values(client, "37-13393-01", "2026Q1", ha_nam_values()).status_code == 201
        body = "code,name,level,parent_code,lat,lon\n37-13393-01,Thôn Ninh Lai,village,13402,,\n"
        response = client.post(
            f"{UNITS}/import", content=body.encode(), headers={"content-type": "text/csv"}
        )
        assert response.status_code == 200
        assert response.json()["updated"] == 1
        assert self._summary(client, "13393")["villages_reported"] == 0
        assert self._summary(client, "13402")["villages_reported"] == 1
