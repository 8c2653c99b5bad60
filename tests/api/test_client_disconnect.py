"""A client that hangs up before its body arrives is not a server error (no 500, no
'unhandled error' in the log); a read never waits for a body at all."""

import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.accounts import bearer, make_user

PATH = "/api/v1/villages/37-13402-DONG/submissions/2025Q1"


def _scope(method: str, token: str) -> dict[str, Any]:
    headers = [(b"authorization", f"Bearer {token}".encode()),
               (b"content-type", b"application/json"), (b"content-length", b"100")]  # fmt: skip
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": method, "scheme": "http", "path": PATH, "raw_path": PATH.encode(),
            "query_string": b"", "root_path": "", "headers": headers,
            "client": ("127.0.0.1", 5000), "server": ("testserver", 80)}  # fmt: skip


def _run(client: TestClient, app: Any, scope: dict[str, Any]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def call() -> None:
        await app(scope, receive, send)

    client.portal.call(call)  # type: ignore[union-attr]
    return sent


@pytest.mark.usefixtures("tree", "reference")
@pytest.mark.parametrize("method", ["PUT", "GET"])
def test_client_gone_before_its_body_is_not_a_500(
    client: TestClient, app: Any, db: Any, method: str, caplog: pytest.LogCaptureFixture
) -> None:
    token = make_user(db, "head-gone", "village_head", "37-13402-DONG")
    assert bearer(token)
    with caplog.at_level(logging.INFO):
        sent = _run(client, app, _scope(method, token))
    starts = [m for m in sent if m["type"] == "http.response.start"]
    assert starts, sent
    assert starts[0]["status"] < 500
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
