"""Per-credential request rates (SPEC §9 "Rates"): 429 with Retry-After past the limit."""

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest
import redis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, insert, select

from api.app import create_app
from api.infra.db import make_engine
from api.infra.settings import Settings
from models.operations import RateCounter
from tests.accounts import bearer, make_user
from tests.api.conftest import V
from tests.served import served

PROBLEM = "application/problem+json"
REDIS_URL = "redis://127.0.0.1:6379/15"
RATE_COUNTER = RateCounter.__table__  # type: ignore[attr-defined]


def _fresh_window(room: float) -> None:
    """Wait for the next minute when fewer than `room` seconds are left in this one
    (the limiter counts per fixed minute: a test must not straddle two)."""
    left = 60 - time.time() % 60
    if left < room:
        time.sleep(left + 0.05)


def _limited_app(settings: Settings, **changes: object) -> FastAPI:
    return create_app(settings.model_copy(update={"rate_limit": 5, **changes}))


@pytest.fixture
def limited(settings: Settings, admin_token: str) -> Iterator[TestClient]:
    """An admin client of an app that allows 5 requests a minute per credential."""
    _fresh_window(room=10)
    with TestClient(_limited_app(settings), headers=bearer(admin_token)) as test_client:
        yield test_client


def _assert_429(response: httpx.Response) -> None:
    assert response.status_code == 429
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"].endswith("/too-many-requests")
    retry_after = response.headers["retry-after"]
    assert retry_after.isdigit()
    assert 1 <= int(retry_after) <= 60


def test_sixth_request_in_a_minute_returns_429_with_retry_after(limited: TestClient) -> None:
    assert [limited.get(f"{V}/me").status_code for _ in range(5)] == [200] * 5
    _assert_429(limited.get(f"{V}/me"))
    _assert_429(limited.get(f"{V}/units"))  # the count is per credential, not per route


def test_other_credential_is_not_limited_by_a_busy_one(limited: TestClient, db: Engine) -> None:
    other = bearer(make_user(db, "other-admin", "admin"))
    for _ in range(6):
        limited.get(f"{V}/me")
    assert limited.get(f"{V}/me").status_code == 429
    assert limited.get(f"{V}/me", headers=other).status_code == 200
    anonymous = limited.get(f"{V}/me", headers={"Authorization": ""})
    assert anonymous.status_code == 401  # counted by address: not yet limited


def test_health_and_docs_are_never_limited(limited: TestClient) -> None:
    for _ in range(6):
        limited.get(f"{V}/me")
    assert limited.get(f"{V}/me").status_code == 429
    for _ in range(10):
        assert limited.get("/healthz").status_code == 200
        assert limited.get("/readyz").status_code == 200
        assert limited.get(f"{V}/openapi.json").status_code == 200


def test_rate_limit_zero_turns_limiting_off(settings: Settings, admin_token: str) -> None:
    app = _limited_app(settings, rate_limit=0)
    with TestClient(app, headers=bearer(admin_token)) as test_client:
        assert {test_client.get(f"{V}/me").status_code for _ in range(12)} == {200}


def test_store_failure_lets_requests_through(limited: TestClient) -> None:
    app: FastAPI = limited.app  # type: ignore[assignment]
    working = app.state.engine
    app.state.engine = make_engine("postgresql://nobody@127.0.0.1:1/none")  # refused at once
    try:
        statuses = [limited.get(f"{V}/me").status_code for _ in range(8)]
    finally:
        broken, app.state.engine = app.state.engine, working
        limited.portal.call(broken.dispose)  # type: ignore[union-attr]
    assert statuses == [200] * 8


def test_old_windows_are_purged(limited: TestClient, db: Engine) -> None:
    with db.begin() as conn:
        conn.execute(insert(RATE_COUNTER).values(key="user:gone", window_start=60, count=9))
    assert limited.get(f"{V}/me").status_code == 200
    with db.connect() as conn:
        keys = conn.execute(select(RATE_COUNTER.c.key)).scalars().all()
    assert keys == ["user:root"]


def test_redis_store_counts_and_limits(settings: Settings, admin_token: str, db: Engine) -> None:
    store = redis.Redis.from_url(REDIS_URL)
    store.flushdb()
    _fresh_window(room=10)
    app = _limited_app(settings, redis_url=REDIS_URL)
    try:
        with TestClient(app, headers=bearer(admin_token)) as test_client:
            assert [test_client.get(f"{V}/me").status_code for _ in range(5)] == [200] * 5
            _assert_429(test_client.get(f"{V}/me"))
        keys = [k.decode() for k in store.keys("smartvillage:rate:user:root:*")]
        assert len(keys) == 1
        assert int(store.get(keys[0]) or 0) == 6
        assert 0 < store.ttl(keys[0]) <= 120
    finally:
        store.flushdb()
        store.close()
    with db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(RATE_COUNTER)).scalar_one() == 0


def test_limit_is_shared_by_two_workers(database_url: str, db: Engine) -> None:
    token = make_user(db, "spray", "admin")
    env = {"SMARTVILLAGE_RATE_LIMIT": "20"}
    with served(database_url, workers=2, env=env) as base_url:
        _fresh_window(room=20)
        statuses = asyncio.run(_parallel_gets(base_url, token, count=40))
    assert len(statuses) == 40
    assert sum(status != 429 for status in statuses) == 20
    assert set(statuses) == {200, 429}


async def _parallel_gets(base_url: str, token: str, *, count: int) -> list[int]:
    # A connection each, so that the two workers share the requests.
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as client:
        answers = await asyncio.gather(
            *(client.get(f"{V}/me", headers=bearer(token)) for _ in range(count))
        )
    return [answer.status_code for answer in answers]
