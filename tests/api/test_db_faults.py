"""The database failing (SPEC §9): 503 problem+json with Retry-After, never a 500 or a hang."""

import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.middleware.base import BaseHTTPMiddleware

from api.app import create_app
from api.core import security
from api.infra.settings import Settings
from api.web.errors import is_database_unavailable
from tests.accounts import TEST_SECRET, bearer
from tests.served import free_port

V = "/api/v1"
NEW_PROVINCE = {"code": "99", "name": "Tỉnh Thử", "level": "province"}


class FakeDriverError(Exception):
    """Stands for a driver's exception: only its SQLSTATE matters to the mapping."""

    def __init__(self, sqlstate: str | None) -> None:
        super().__init__(f"driver error {sqlstate}")
        self.sqlstate = sqlstate


def _dbapi_error(sqlstate: str | None, cls: type[DBAPIError] = DBAPIError) -> DBAPIError:
    return cls("SELECT 1", None, FakeDriverError(sqlstate))


def assert_unavailable(response: Any) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) > 0
    assert response.json()["status"] == 503


@pytest.mark.parametrize(
    "sqlstate",
    ["08006", "08001", "57P01", "57P03", "57014", "53300", "40001", "40P01"],
    ids=["lost", "refused", "shutdown", "starting", "timeout", "too-many", "serial", "deadlock"],
)
def test_unavailable_sqlstates_map_to_503(sqlstate: str) -> None:
    assert is_database_unavailable(_dbapi_error(sqlstate))


@pytest.mark.parametrize("sqlstate", ["42601", "22003", "23505", None], ids=str)
def test_request_sqlstates_are_not_unavailable(sqlstate: str | None) -> None:
    assert not is_database_unavailable(_dbapi_error(sqlstate))


@pytest.mark.parametrize(
    "exc",
    [
        _dbapi_error(None, OperationalError),
        PoolTimeout("QueuePool limit reached"),
        ConnectionRefusedError(111, "Connect call failed"),
        TimeoutError(),
        FakeDriverError("57P03"),
    ],
    ids=["operational", "pool-timeout", "refused", "timeout", "raw-sqlstate"],
)
def test_connection_failures_are_unavailable(exc: Exception) -> None:
    assert is_database_unavailable(exc)


def test_invalidated_connection_is_unavailable() -> None:
    exc = DBAPIError("SELECT 1", None, FakeDriverError(None), connection_invalidated=True)
    assert is_database_unavailable(exc)


def test_other_errors_are_not_unavailable() -> None:
    assert not is_database_unavailable(ValueError("bad"))
    assert not is_database_unavailable(_dbapi_error("23505", IntegrityError))


def _app_at(database_url: str, **settings: Any) -> FastAPI:
    options = {"secret_key": TEST_SECRET, "connect_timeout": 1, **settings}
    return create_app(Settings(database_url=database_url, **options))


@pytest.fixture(
    params=[
        pytest.param("postgresql://postgres@127.0.0.1:{port}/nowhere", id="postgresql-closed-port"),
        pytest.param("sqlite:////proc/no-such-dir/{port}.db", id="sqlite-unopenable-path"),
    ]
)
def down_client(request: pytest.FixtureRequest) -> Iterator[TestClient]:
    """A client of an app whose database cannot be reached at all."""
    app = _app_at(request.param.format(port=free_port()))
    token, _ = security.create_token(secret=TEST_SECRET, username="root", minutes=5)
    with TestClient(app, headers=bearer(token), raise_server_exceptions=False) as client:
        yield client


def test_read_with_database_down_returns_503(down_client: TestClient) -> None:
    assert_unavailable(down_client.get(f"{V}/units"))


def test_write_with_database_down_returns_503(down_client: TestClient) -> None:
    assert_unavailable(down_client.post(f"{V}/units", json=NEW_PROVINCE))


def test_readyz_with_database_down_returns_503(down_client: TestClient) -> None:
    started = time.monotonic()
    assert_unavailable(down_client.get("/readyz"))
    assert time.monotonic() - started < 3


def test_healthz_with_database_down_returns_200(down_client: TestClient) -> None:
    assert down_client.get("/healthz").status_code == 200


def test_database_error_raised_in_middleware_returns_503(settings: Settings) -> None:
    async def failing(request: Any, call_next: Any) -> Any:
        raise _dbapi_error("57P01", OperationalError)

    app = create_app(settings)
    app.add_middleware(BaseHTTPMiddleware, dispatch=failing)
    with TestClient(app, raise_server_exceptions=False) as client:
        assert_unavailable(client.get("/healthz"))


def test_write_blocked_by_lock_returns_503_after_statement_timeout(
    database_url: str, db: Engine, admin_token: str
) -> None:
    app = _app_at(database_url, statement_timeout=0.5)
    with TestClient(app, headers=bearer(admin_token)) as client, db.connect() as locker:
        if db.dialect.name == "postgresql":
            locker.exec_driver_sql("LOCK TABLE unit IN ACCESS EXCLUSIVE MODE")
        else:
            locker.exec_driver_sql("BEGIN IMMEDIATE")
        started = time.monotonic()
        response = client.post(f"{V}/units", json=NEW_PROVINCE)
        elapsed = time.monotonic() - started
        locker.rollback()
    assert_unavailable(response)
    assert elapsed < 4, f"answered after {elapsed:.1f} s"


def test_readyz_with_silent_database_answers_503_within_its_timeout() -> None:
    # A listener that never answers: connecting would wait for the whole connect timeout.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        app = _app_at(f"postgresql://postgres@127.0.0.1:{port}/x", connect_timeout=30)
        with TestClient(app) as client:
            started = time.monotonic()
            response = client.get("/readyz")
            elapsed = time.monotonic() - started
    assert_unavailable(response)
    assert elapsed < 4, f"answered after {elapsed:.1f} s"
