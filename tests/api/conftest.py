"""Fixtures for HTTP tests: a small unit tree and published criteria sets."""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.seed.demo import BASE_VALUES
from criteria.loader import SETS_DIR, load_document_file
from tests.accounts import bearer, make_user
from tests.factories import make_tree

V = "/api/v1"


def publish(client: TestClient, document: dict[str, Any]) -> None:
    """Create a draft from `document` and publish it, asserting both steps."""
    created = client.post(f"{V}/criteria-sets", json=document)
    assert created.status_code == 201, created.text
    code, version = document["code"], document["version"]
    published = client.post(f"{V}/criteria-sets/{code}/versions/{version}/publish")
    assert published.status_code == 200, published.text


def reference_document() -> dict[str, Any]:
    return load_document_file(SETS_DIR / "ttm-reference.yaml")


def lao_cai_document() -> dict[str, Any]:
    return load_document_file(SETS_DIR / "ttm-lao-cai.yaml")


def ha_nam_values() -> dict[str, Any]:
    """Thôn Đông (Hà Nam, 2024) as reported — 85 % fibre, 92.5 % smartphones, 100 % digital
    addresses, wifi, QR payment everywhere, 3 Zalo groups — the rest plausible and passing
    (the same figures the demo data loads)."""
    return dict(BASE_VALUES)


@pytest.fixture
def head(db: Engine) -> dict[str, str]:
    """Headers of the village head of 37-13402-DONG."""
    return bearer(make_user(db, "head-dong", "village_head", "37-13402-DONG"))


@pytest.fixture
def reviewer(db: Engine) -> dict[str, str]:
    """Headers of a reviewer of province 37."""
    return bearer(make_user(db, "rev-37", "reviewer", "37"))


@pytest.fixture
def tree(db: Engine) -> dict[str, int]:
    return make_tree(db)


@pytest.fixture
def reference(client: TestClient) -> dict[str, Any]:
    document = reference_document()
    publish(client, document)
    return document


def put_values(
    client: TestClient, village: str, period: str, values: dict[str, Any], **kw: Any
) -> Any:
    return client.put(f"{V}/villages/{village}/submissions/{period}", json={"values": values}, **kw)
