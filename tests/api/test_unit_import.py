"""POST /units/import: CSV, JSON and multipart; all-or-nothing; dry run; per-row report."""

import json
import unicodedata

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.factories import make_tree

UNITS = "/api/v1/units"
IMPORT = f"{UNITS}/import"
PROBLEM = "application/problem+json"
HEADER = "code,name,level,parent_code,lat,lon\n"
# Children before parents on purpose: the import resolves levels top-down.
CSV_BODY = (
    HEADER
    + "35-13500-DONG,Thôn Đông,village,13500,20.52,105.91\n"
    + "13500,Xã Hoàng Tây,commune,35,,\n"
    + "35,Hà Nam,province,,,\n"
)
JSON_BODY = [
    {"code": "35-13500-DONG", "name": "Thôn Đông", "level": "village", "parent_code": "13500"},
    {"code": "13500", "name": "Xã Hoàng Tây", "level": "commune", "parent_code": "35"},
    {"code": "35", "name": "Hà Nam", "level": "province"},
]


def post_csv(client: TestClient, body: str, **params) -> object:
    return client.post(
        IMPORT, content=body.encode(), headers={"content-type": "text/csv"}, params=params
    )


def report(response) -> dict:
    body = response.json()
    return {k: body[k] for k in ("dry_run", "rows", "created", "updated", "unchanged")}


def row_errors(response) -> list[tuple[int, str | None, str]]:
    return [(e["row"], e["column"], e["code"]) for e in response.json()["errors"]]


def assert_hoang_tay_imported(client: TestClient) -> None:
    village = client.get(f"{UNITS}/35-13500-DONG").json()
    assert village["name"] == "Thôn Đông"
    assert [p["code"] for p in village["path"]] == ["35", "13500"]
    assert [u["code"] for u in client.get(UNITS, params={"q": "hoang tay"}).json()["items"]] == [
        "13500"
    ]


class TestImportFormats:
    def test_import_csv_body_creates_units(self, client: TestClient):
        response = post_csv(client, CSV_BODY)
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        assert response.json() == {
            "dry_run": False,
            "rows": 3,
            "created": 3,
            "updated": 0,
            "unchanged": 0,
            "errors": [],
        }
        assert_hoang_tay_imported(client)
        assert client.get(f"{UNITS}/35-13500-DONG").json()["lat"] == 20.52

    def test_import_json_body_creates_units(self, client: TestClient):
        response = client.post(IMPORT, json=JSON_BODY)
        assert response.status_code == 200
        assert report(response) | {"errors": response.json()["errors"]} == {
            "dry_run": False,
            "rows": 3,
            "created": 3,
            "updated": 0,
            "unchanged": 0,
            "errors": [],
        }
        assert_hoang_tay_imported(client)

    @pytest.mark.parametrize(
        ("filename", "content_type", "payload"),
        [
            ("units.csv", "text/csv", CSV_BODY.encode()),
            ("units.json", "application/json", json.dumps(JSON_BODY).encode()),
            ("units.csv", "application/octet-stream", CSV_BODY.encode()),
            ("UNITS.JSON", "application/octet-stream", json.dumps(JSON_BODY).encode()),
        ],
        ids=["csv-type", "json-type", "csv-extension", "json-extension"],
    )
    def test_import_multipart_file_creates_units(self, client, filename, content_type, payload):
        response = client.post(IMPORT, files={"file": (filename, payload, content_type)})
        assert response.status_code == 200
        assert report(response)["created"] == 3
        assert_hoang_tay_imported(client)

    def test_import_multipart_without_file_part_returns_422(self, client: TestClient):
        response = client.post(IMPORT, files={"other": ("units.csv", b"x", "text/csv")})
        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM
        assert [e["field"] for e in response.json()["errors"]] == ["file"]

    @pytest.mark.parametrize(
        ("content_type", "payload"),
        [("text/plain", CSV_BODY), ("application/xml", "<units/>"), ("", CSV_BODY)],
        ids=["text-plain", "xml", "none"],
    )
    def test_import_other_media_type_returns_415(self, client, content_type, payload):
        response = client.post(
            IMPORT, content=payload.encode(), headers={"content-type": content_type}
        )
        assert response.status_code == 415
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["status"] == 415

    def test_import_multipart_file_of_unknown_kind_returns_415(self, client: TestClient):
        response = client.post(IMPORT, files={"file": ("units.xlsx", b"PK", "application/zip")})
        assert response.status_code == 415
        assert response.headers["content-type"] == PROBLEM

    def test_import_decomposed_name_is_stored_nfc(self, client: TestClient, db: Engine):
        make_tree(db)
        name = unicodedata.normalize("NFD", "Thôn Đông Mới")
        assert name != "Thôn Đông Mới"
        body = HEADER + f"NEW-1,{name},village,13393,,\n"
        assert post_csv(client, body).status_code == 200
        assert client.get(f"{UNITS}/NEW-1").json()["name"] == "Thôn Đông Mới"
        found = client.get(UNITS, params={"q": "dong moi"}).json()["items"]
        assert [u["code"] for u in found] == ["NEW-1"]

    def test_import_csv_with_bom_and_crlf_is_read(self, client: TestClient):
        body = "\ufeff" + CSV_BODY.replace("\n", "\r\n")
        response = post_csv(client, body)
        assert response.status_code == 200
        assert report(response)["created"] == 3


class TestImportDryRunAndErrors:
    def test_import_dry_run_reports_and_writes_nothing(self, client: TestClient):
        response = post_csv(client, CSV_BODY, dry_run="true")
        assert response.status_code == 200
        assert response.json() == {
            "dry_run": True,
            "rows": 3,
            "created": 3,
            "updated": 0,
            "unchanged": 0,
            "errors": [],
        }
        assert client.get(f"{UNITS}/35").status_code == 404
        assert client.get(UNITS).json()["items"] == []

    def test_import_with_bad_row_returns_422_and_writes_nothing(self, client: TestClient):
        body = CSV_BODY + "1340,Xã Sai,commune,35,,\n" + "V2,Thôn Hai,village,13500,95,\n"
        response = post_csv(client, body)
        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM
        problem = response.json()
        assert report(response) == {
            "dry_run": False,
            "rows": 5,
            "created": 0,
            "updated": 0,
            "unchanged": 0,
        }
        assert row_errors(response) == [(4, "code", "value_error"), (5, "lat", "less_than_equal")]
        first = problem["errors"][0]
        assert "1340" in first["message"]
        assert (first["field"], first["pointer"], first["detail"]) == (
            "3.code",
            "#/3/code",
            first["message"],
        )
        assert client.get(f"{UNITS}/35").status_code == 404
        assert client.get(UNITS).json()["items"] == []

    @pytest.mark.parametrize(
        ("line", "expected"),
        [
            ("13500,Trùng,commune,35,,", (4, "code", "duplicate_code")),
            ("V1,Thôn,village,99999,,", (4, "parent_code", "parent_not_found")),
            ("V1,Thôn,village,35,,", (4, "parent_code", "parent_wrong_level")),
            ("V1,Thôn,village,,,", (4, "parent_code", "parent_required")),
            ("36,Tỉnh,province,35,,", (4, "parent_code", "parent_not_allowed")),
            ("V1,Thôn,hamlet,13500,,", (4, "level", "literal_error")),
            ("V1,,village,13500,,", (4, "name", "string_too_short")),
            ("V1,Thôn,village,13500,abc,", (4, "lat", "float_parsing")),
            ("V1,Thôn,village", (4, None, "wrong_cell_count")),
        ],
        ids=[
            "duplicate",
            "unknown-parent",
            "parent-level",
            "no-parent",
            "province-parent",
            "level",
            "empty-name",
            "lat",
            "cells",
        ],
    )
    def test_import_bad_row_names_row_and_column(self, client, line, expected):
        response = post_csv(client, CSV_BODY + line + "\n", dry_run="true")
        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["dry_run"] is True
        assert row_errors(response) == [expected]

    def test_import_json_row_not_object_names_row(self, client: TestClient):
        response = client.post(IMPORT, json=[*JSON_BODY, "nope"])
        assert response.status_code == 422
        assert row_errors(response) == [(4, None, "not_an_object")]

    @pytest.mark.parametrize(
        ("content_type", "payload", "code"),
        [
            ("text/csv", b"code,name\n1,x\n", "invalid_header"),
            ("text/csv", b"", "invalid_header"),
            ("text/csv", b"\xff\xfe", "invalid_encoding"),
            ("application/json", b"[{", "invalid_json"),
            ("application/json", b'{"code": "35"}', "not_an_array"),
        ],
        ids=["header", "empty", "encoding", "json-syntax", "json-object"],
    )
    def test_import_unreadable_file_returns_422_row_zero(self, client, content_type, payload, code):
        response = client.post(IMPORT, content=payload, headers={"content-type": content_type})
        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM
        assert row_errors(response) == [(0, None, code)]
        assert response.json()["rows"] == 0

    def test_import_level_change_of_stored_unit_returns_422(self, client, db):
        make_tree(db)
        response = post_csv(client, HEADER + "13402,Phường Kim Thanh,village,13393,,\n")
        assert response.status_code == 422
        assert row_errors(response) == [(1, "level", "level_change")]


class TestImportUpdates:
    def test_reimport_same_file_counts_unchanged(self, client: TestClient):
        assert post_csv(client, CSV_BODY).status_code == 200
        response = post_csv(client, CSV_BODY)
        assert response.status_code == 200
        assert report(response) == {
            "dry_run": False,
            "rows": 3,
            "created": 0,
            "updated": 0,
            "unchanged": 3,
        }

    def test_reimport_with_changes_counts_updated(self, client: TestClient):
        assert post_csv(client, CSV_BODY).status_code == 200
        changed = CSV_BODY.replace("Thôn Đông,village,13500,20.52", "Thôn Đông A,village,13500,21")
        response = post_csv(client, changed + "13501,Xã Mới,commune,35,,\n")
        assert response.status_code == 200
        assert report(response) == {
            "dry_run": False,
            "rows": 4,
            "created": 1,
            "updated": 1,
            "unchanged": 2,
        }
        village = client.get(f"{UNITS}/35-13500-DONG").json()
        assert (village["name"], village["lat"], village["lon"]) == ("Thôn Đông A", 21, 105.91)
        found = client.get(UNITS, params={"q": "thon dong a"}).json()["items"]
        assert [u["code"] for u in found] == ["35-13500-DONG"]

    def test_import_moves_village_and_commune(self, client: TestClient, db: Engine):
        make_tree(db)
        body = HEADER + "37-13402-DONG,Thôn Đông,village,04000,,\n13393,Phường Lê Hồ,commune,15,,\n"
        response = post_csv(client, body)
        assert response.status_code == 200
        assert report(response)["updated"] == 2
        dong = client.get(f"{UNITS}/37-13402-DONG").json()
        assert [p["code"] for p in dong["path"]] == ["15", "04000"]
        ninh_lai = client.get(f"{UNITS}/37-13393-01").json()
        assert [p["code"] for p in ninh_lai["path"]] == ["15", "13393"]

    def test_import_under_new_parent_in_same_file_moves_unit(self, client, db):
        make_tree(db)
        body = HEADER + "37-13402-BAC,Thôn Bắc,village,13499,,\n13499,Xã Mới,commune,37,,\n"
        response = post_csv(client, body)
        assert response.status_code == 200
        assert report(response) | {} == {
            "dry_run": False,
            "rows": 2,
            "created": 1,
            "updated": 1,
            "unchanged": 0,
        }
        assert client.get(f"{UNITS}/37-13402-BAC").json()["parent_code"] == "13499"

    def test_import_empty_json_array_reports_zero(self, client: TestClient):
        response = client.post(IMPORT, json=[])
        assert response.status_code == 200
        assert report(response) == {
            "dry_run": False,
            "rows": 0,
            "created": 0,
            "updated": 0,
            "unchanged": 0,
        }
