"""Live tests: a fresh database of their own, seeded, and `smartvillage serve` (2 workers)."""

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from api.infra.db import make_sync_engine
from api.infra.migrate import upgrade
from tests.accounts import bearer, make_user
from tests.factories import make_unit
from tests.pg import create_database, drop_database
from tests.served import served

COMMUNE = "13402"
VILLAGES = [f"37-13402-V{n:02d}" for n in range(1, 51)]


@dataclass(frozen=True)
class Live:
    """A served API on its own seeded database, and tokens for its callers."""

    base_url: str
    engine: Engine
    admin: dict[str, str]
    reviewer: dict[str, str]
    heads: dict[str, dict[str, str]]


def _fresh_database(tmp: Path) -> Iterator[str]:
    server = os.environ.get("TEST_DATABASE_URL")
    if not server:
        url = f"sqlite:///{tmp / 'live.db'}"
        upgrade(url)
        yield url
        return
    url = create_database(server, "sv_live")
    upgrade(url)
    yield url
    drop_database(url)


def _seed(engine: Engine) -> tuple[dict[str, str], dict[str, str], dict[str, dict[str, str]]]:
    make_unit(engine, "37", "Ninh Bình", "province")
    make_unit(engine, COMMUNE, "Phường Kim Thanh", "commune", "37")
    for n, code in enumerate(VILLAGES, start=1):
        make_unit(engine, code, f"Thôn {n}", "village", COMMUNE)
    admin = bearer(make_user(engine, "live-admin", "admin", minutes=60))
    reviewer = bearer(make_user(engine, "live-rev", "reviewer", "37", minutes=60))
    heads = {
        code: bearer(make_user(engine, f"head-{n}", "village_head", code, minutes=60))
        for n, code in enumerate(VILLAGES, start=1)
    }
    return admin, reviewer, heads


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """One served app (2 workers) per test module, with the reference set published."""
    from tests.api.conftest import reference_document

    tmp = tmp_path_factory.mktemp("live")
    databases = _fresh_database(tmp)
    url = next(databases)
    engine = make_sync_engine(url)
    try:
        admin, reviewer, heads = _seed(engine)
        with served(url, workers=2, log=tmp / "serve.log") as base_url:
            document = reference_document()
            created = httpx.post(f"{base_url}/api/v1/criteria-sets", json=document, headers=admin)
            assert created.status_code == 201, created.text
            published = httpx.post(
                f"{base_url}/api/v1/criteria-sets/ttm-reference/versions/1/publish",
                headers=admin,
                timeout=60,
            )
            assert published.status_code == 200, published.text
            yield Live(base_url, engine, admin, reviewer, heads)
    finally:
        engine.dispose()
        next(databases, None)
