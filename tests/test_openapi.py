"""The OpenAPI document: rules every route must follow, checked over whatever routes exist.

Not a snapshot: routes are added as the API grows, and each new one is held to the same rules.
"""

import warnings
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

OPENAPI_URL = "/api/v1/openapi.json"
API_PREFIX = "/api/v1/"
PROBES = {"/healthz", "/readyz"}
PROBLEM_JSON = "application/problem+json"
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@pytest.fixture
def document(app: FastAPI, client: TestClient) -> dict[str, Any]:
    """The served document. FastAPI only *warns* on duplicate operationIds (an error under
    filterwarnings=error, raised mid-request); build it here first so the test below names
    the duplicates instead."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Duplicate Operation ID", UserWarning)
        app.openapi()
    response = client.get(OPENAPI_URL)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method.upper(), operation


def _is_error_status(status: str) -> bool:
    return status[:1] in ("4", "5") and status != "304"


def test_openapi_json_is_served_as_json(client: TestClient, document: dict[str, Any]) -> None:
    response = client.get(OPENAPI_URL)
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == "application/json"
    assert document["openapi"].startswith("3.")
    assert document["paths"]


def test_every_operation_has_a_unique_operation_id(document: dict[str, Any]) -> None:
    ids = Counter(op.get("operationId") for _, _, op in _operations(document))
    assert None not in ids
    duplicates = sorted(str(op_id) for op_id, n in ids.items() if n > 1)
    assert duplicates == []


def test_every_path_is_under_api_v1_except_probes(document: dict[str, Any]) -> None:
    paths = set(document["paths"])
    assert paths >= PROBES
    stray = sorted(p for p in paths - PROBES if not p.startswith(API_PREFIX))
    assert stray == []


def test_every_error_response_declares_problem_json(document: dict[str, Any]) -> None:
    missing = [
        f"{method} {path} {status}"
        for path, method, operation in _operations(document)
        for status, response in operation.get("responses", {}).items()
        if _is_error_status(status) and PROBLEM_JSON not in response.get("content", {})
    ]
    assert missing == [], f"error responses without {PROBLEM_JSON} content"


def test_docs_page_is_html_pointing_at_openapi(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == "text/html"
    assert OPENAPI_URL in response.text


def test_security_schemes_are_bearer_token_and_api_key(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["BearerToken"] == {
        "type": "oauth2",
        "flows": {"password": {"scopes": {}, "tokenUrl": "/api/v1/auth/token"}},
    }
    assert schemes["ApiKey"] == {"type": "apiKey", "in": "header", "name": "X-API-Key"}


def test_every_policed_operation_lists_both_schemes_and_public_ones_none(
    document: dict[str, Any],
) -> None:
    public = {"issue_token"}
    either = [{"BearerToken": []}, {"ApiKey": []}]
    wrong = [
        f"{method} {path}: {operation.get('security')}"
        for path, method, operation in _operations(document)
        if path.startswith(API_PREFIX)
        and operation.get("security") != (None if operation["operationId"] in public else either)
    ]
    assert wrong == []
    probes = [op for path, _, op in _operations(document) if path in PROBES]
    assert all("security" not in op for op in probes)
