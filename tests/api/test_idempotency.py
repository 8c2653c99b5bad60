"""Idempotency-Key on writes (SPEC §9 "Retries are safe"), over HTTP."""

import asyncio
import hashlib
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import OperationalError

from api.app import create_app
from api.infra.settings import Settings
from api.services import reviews as review_service
from api.services import submissions as submission_service
from api.web import idempotency
from models.base import utcnow
from models.operations import IdempotencyRecord
from tests.accounts import TEST_PASSWORD, bearer, make_user
from tests.api.conftest import V, ha_nam_values, put_values

pytestmark = pytest.mark.usefixtures("tree", "reference")
PROBLEM = "application/problem+json"
DONG, PERIOD = "37-13402-DONG", "2026Q1"
URL = f"{V}/villages/{DONG}/submissions/{PERIOD}"
RECORD = IdempotencyRecord.__table__  # type: ignore[attr-defined]


def _key(value: str) -> dict[str, str]:
    return {"Idempotency-Key": value}


def _approve(client: TestClient, headers: dict[str, str], comment: str = "ok") -> Any:
    return client.post(f"{URL}/approve", json={"comment": comment}, headers=headers)


def _audit_actions(client: TestClient) -> list[str]:
    response = client.get(f"{V}/audit", params={"unit": DONG})
    assert response.status_code == 200, response.text
    return [item["action"] for item in response.json()["items"]]


def _same_answer(first: Any, second: Any) -> None:
    assert second.status_code == first.status_code
    assert second.content == first.content
    for name in ("content-type", "etag", "location"):
        assert second.headers.get(name) == first.headers.get(name)
    assert "idempotent-replayed" not in first.headers
    assert second.headers["idempotent-replayed"] == "true"


def test_put_twice_with_same_key_replays_first_answer_without_new_work(
    client: TestClient, head: dict[str, str]
) -> None:
    first = put_values(client, DONG, PERIOD, ha_nam_values(), headers=head | _key("put-1"))
    second = put_values(client, DONG, PERIOD, ha_nam_values(), headers=head | _key("put-1"))
    assert first.status_code == 201  # done again, the same PUT would answer 200
    _same_answer(first, second)
    assert second.headers["x-request-id"] != first.headers["x-request-id"]
    revisions = client.get(f"{URL}/revisions", headers=head).json()["items"]
    assert [r["revision"] for r in revisions] == [1]
    assert _audit_actions(client) == ["submission.put"]


def test_approve_twice_with_same_key_returns_200_twice_with_same_body(
    client: TestClient, head: dict[str, str], reviewer: dict[str, str]
) -> None:
    put_values(client, DONG, PERIOD, ha_nam_values(), headers=head)
    first = _approve(client, reviewer | _key("approve-1"))
    second = _approve(client, reviewer | _key("approve-1"))
    assert first.status_code == 200, first.text
    _same_answer(first, second)
    assert _approve(client, reviewer).status_code == 409  # without a key: already approved
    assert _audit_actions(client) == ["submission.approve", "submission.put"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", URL, {"values": ha_nam_values() | {"team_members": 9}}),
        ("POST", f"{URL}/approve", {"values": ha_nam_values()}),
    ],
    ids=["other-body", "other-path"],
)
def test_same_key_for_another_request_returns_422_naming_idempotency_key(
    client: TestClient, head: dict[str, str], method: str, path: str, body: dict[str, Any]
) -> None:
    put_values(client, DONG, PERIOD, ha_nam_values(), headers=head | _key("k-1"))
    response = client.request(method, path, json=body, headers=head | _key("k-1"))
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"].endswith("/problems/idempotency-key-reused")
    assert [e["field"] for e in response.json()["errors"]] == ["Idempotency-Key"]
    assert "x-request-id" in response.headers
    assert _audit_actions(client) == ["submission.put"]


@pytest.mark.parametrize(
    "key", ["", "a b", "x" * 256, "ключ".encode()], ids=["empty", "space", "long", "non-ascii"]
)
def test_malformed_key_returns_422(
    client: TestClient, head: dict[str, str], key: str | bytes
) -> None:
    headers = head | {"Idempotency-Key": key}
    response = client.put(URL, json={"values": ha_nam_values()}, headers=headers)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"
    assert _audit_actions(client) == []


def test_longest_key_is_accepted(client: TestClient, head: dict[str, str]) -> None:
    key = "~" * 255
    response = put_values(client, DONG, PERIOD, ha_nam_values(), headers=head | _key(key))
    assert response.status_code == 201


def test_keys_are_per_caller(client: TestClient, head: dict[str, str], db: Engine) -> None:
    other = bearer(make_user(db, "head-dong-2", "village_head", DONG))
    put_values(client, DONG, PERIOD, ha_nam_values(), headers=head | _key("shared"))
    changed = ha_nam_values() | {"team_members": 9}
    response = put_values(client, DONG, PERIOD, changed, headers=other | _key("shared"))
    assert response.status_code == 200
    assert "idempotent-replayed" not in response.headers
    assert response.json()["revision"] == 2
    assert response.json()["submitted_by"] == "head-dong-2"


def test_4xx_answer_is_replayed(
    client: TestClient, head: dict[str, str], reviewer: dict[str, str]
) -> None:
    first = _approve(client, reviewer | _key("early"))
    assert first.status_code == 404
    put_values(client, DONG, PERIOD, ha_nam_values(), headers=head)
    second = _approve(client, reviewer | _key("early"))
    _same_answer(first, second)
    assert _approve(client, reviewer | _key("later")).status_code == 200


def test_503_answer_is_not_replayed(
    client: TestClient, head: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    original = submission_service.put

    async def database_gone(*args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(submission_service, "put", original)
        raise OperationalError("UPDATE submission", {}, ConnectionError("gone"))

    monkeypatch.setattr(submission_service, "put", database_gone)
    first = put_values(client, DONG, PERIOD, ha_nam_values(), headers=head | _key("retry"))
    assert first.status_code == 503
    second = put_values(client, DONG, PERIOD, ha_nam_values(), headers=head | _key("retry"))
    assert second.status_code == 201
    assert "idempotent-replayed" not in second.headers


def test_crash_is_not_replayed(
    app: Any, head: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    original = submission_service.put

    async def crash(*args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(submission_service, "put", original)
        raise RuntimeError("boom")

    monkeypatch.setattr(submission_service, "put", crash)
    with TestClient(app, raise_server_exceptions=False) as client:
        first = put_values(client, DONG, PERIOD, ha_nam_values(), headers=head | _key("crash"))
        assert first.status_code == 500
        assert first.headers["content-type"] == PROBLEM
        assert "x-request-id" in first.headers
        second = put_values(client, DONG, PERIOD, ha_nam_values(), headers=head | _key("crash"))
    assert second.status_code == 201
    assert "idempotent-replayed" not in second.headers


def test_database_down_while_reserving_returns_503(
    client: TestClient, head: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def unreachable(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("INSERT INTO idempotency_record", {}, ConnectionError("down"))

    monkeypatch.setattr(idempotency, "_reserve", unreachable)
    response = put_values(client, DONG, PERIOD, ha_nam_values(), headers=head | _key("down"))
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["retry-after"] == "5"
    assert _audit_actions(client) == []


def _raw_put(client: TestClient, headers: dict[str, str], body: bytes) -> Any:
    return client.put(URL, content=body, headers=headers | {"Content-Type": "application/json"})


def _record(db: Engine, *, key: str, body: bytes, state: str, age: timedelta) -> None:
    scope = {"method": "PUT", "path": URL, "query_string": b""}
    digest = idempotency.request_hash(scope, hashlib.sha256(body).hexdigest())
    row = {"caller": "user:head-dong", "key": key, "request_hash": digest, "state": state}
    stored = {"status_code": 201, "headers": [], "body": b"{}", "created_at": utcnow() - age}
    with db.begin() as conn:
        conn.execute(insert(RECORD).values(**row, **stored))


def test_running_record_blocks_until_stale_then_is_taken_over(
    client: TestClient, head: dict[str, str], db: Engine
) -> None:
    body = b'{"values": {"households_total": 50}}'
    _record(db, key="fresh", body=body, state="running", age=timedelta(seconds=5))
    _record(db, key="stale", body=body, state="running", age=timedelta(minutes=5))
    assert _raw_put(client, head | _key("fresh"), body).status_code == 409
    taken = _raw_put(client, head | _key("stale"), body)
    assert taken.status_code == 201
    assert _raw_put(client, head | _key("stale"), body).content == taken.content


def test_expired_answer_is_not_replayed(
    client: TestClient, head: dict[str, str], db: Engine
) -> None:
    body = b'{"values": {"households_total": 50}}'
    _record(db, key="old", body=body, state="done", age=timedelta(hours=25))
    response = _raw_put(client, head | _key("old"), body)
    assert response.status_code == 201
    assert response.json()["values"] == {"households_total": 50}
    with db.connect() as conn:
        rows = conn.execute(select(RECORD.c.state).where(RECORD.c.key == "old")).all()
    assert [r.state for r in rows] == ["done"]


async def test_duplicate_while_first_runs_returns_409(
    settings: Settings,
    client: TestClient,
    head: dict[str, str],
    reviewer: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    put_values(client, DONG, PERIOD, ha_nam_values(), headers=head)
    started, release = asyncio.Event(), asyncio.Event()
    original = review_service.review

    async def slow_review(*args: Any, **kwargs: Any) -> Any:
        started.set()
        await release.wait()
        return await original(*args, **kwargs)

    monkeypatch.setattr(review_service, "review", slow_review)
    app = create_app(settings)
    headers = reviewer | _key("slow")
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://test") as http,
    ):
        first = asyncio.create_task(http.post(f"{URL}/approve", json={}, headers=headers))
        try:
            await asyncio.wait_for(started.wait(), 10)
            duplicate = await asyncio.wait_for(
                http.post(f"{URL}/approve", json={}, headers=headers), 10
            )
        finally:
            release.set()
        answered = await first
        again = await http.post(f"{URL}/approve", json={}, headers=headers)
    assert duplicate.status_code == 409
    assert duplicate.headers["content-type"] == PROBLEM
    assert duplicate.json()["type"].endswith("/problems/idempotency-key-in-use")
    assert answered.status_code == 200
    assert again.content == answered.content
    assert again.headers["idempotent-replayed"] == "true"


def test_token_answers_are_never_stored(client: TestClient, db: Engine) -> None:
    make_user(db, "signer", "reviewer", "37")
    form = {"username": "signer", "password": TEST_PASSWORD}
    for _ in range(2):
        response = client.post(f"{V}/auth/token", data=form, headers=_key("sign-in"))
        assert response.status_code == 200, response.text
        assert "idempotent-replayed" not in response.headers
    with db.connect() as conn:
        assert conn.execute(select(RECORD.c.id)).all() == []
