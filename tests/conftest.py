"""Test database (SQLite by default, PostgreSQL when TEST_DATABASE_URL is set) and clients.

The schema is made once per run by `alembic upgrade head`. Each test starts from empty
tables (truncated after every test), so tests may commit for real and the app under test
runs exactly as in production, on its own engine inside the TestClient's event loop.
"""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from api.app import create_app
from api.infra.db import make_sync_engine
from api.infra.migrate import upgrade
from api.infra.settings import Settings
from models import metadata
from tests.accounts import TEST_SECRET, bearer, make_user
from tests.pg import create_database, drop_database

TABLES_CHILD_FIRST = [t.name for t in reversed(metadata.sorted_tables)]


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh, migrated database for this test run."""
    server = os.environ.get("TEST_DATABASE_URL")
    if server:
        url = create_database(server, "sv_test")
        upgrade(url)
        yield url
        drop_database(url)
        return
    path: Path = tmp_path_factory.mktemp("db") / "test.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    yield url


@pytest.fixture(scope="session")
def sync_engine(database_url: str) -> Iterator[Engine]:
    engine = make_sync_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def db(sync_engine: Engine) -> Iterator[Engine]:
    """The test database's sync engine; every table is emptied after the test."""
    yield sync_engine
    with sync_engine.begin() as conn:
        if sync_engine.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(TABLES_CHILD_FIRST)} RESTART IDENTITY CASCADE"))
        else:
            for table in TABLES_CHILD_FIRST:
                conn.execute(text(f"DELETE FROM {table}"))


@pytest.fixture
def settings(database_url: str, db: Engine) -> Settings:
    return Settings(database_url=database_url, secret_key=TEST_SECRET, rate_limit=0)


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def admin_token(db: Engine) -> str:
    return make_user(db, "root", "admin")


@pytest.fixture
def client(app: FastAPI, admin_token: str) -> Iterator[TestClient]:
    """A client signed in as an admin (send other headers per request to act as others)."""
    with TestClient(app, headers=bearer(admin_token)) as test_client:
        yield test_client
