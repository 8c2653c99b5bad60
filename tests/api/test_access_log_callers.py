"""The access line's `caller` for a bearer token: a verified token is remembered between
requests (`api.core.security.read_token`; verifying it again cost more than the rest of
the line), but never past the token's expiry, and never for a token the server did not sign."""

import json
import logging
import time
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from fastapi.testclient import TestClient

from api.web.observability import LogFormatter
from tests.accounts import TEST_SECRET


def _token(secret: str, seconds: float) -> dict[str, str]:
    now = datetime.now(UTC)
    claims = {"sub": "short", "iat": now, "exp": now + timedelta(seconds=seconds), "typ": "access"}
    return {"Authorization": f"Bearer {jwt.encode(claims, secret, algorithm='HS256')}"}


def _caller(client: TestClient, caplog: pytest.LogCaptureFixture, head: dict[str, str]) -> str:
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="smartvillage.access"):
        assert client.get("/healthz", headers=head).status_code == 200
    records = [r for r in caplog.records if r.name == "smartvillage.access"]
    return str(json.loads(LogFormatter().format(records[-1]))["caller"])


def test_a_remembered_token_stops_naming_its_user_when_it_expires(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    head = _token(TEST_SECRET, 2.0)
    assert _caller(client, caplog, head) == "user:short"
    assert _caller(client, caplog, head) == "user:short"  # remembered
    time.sleep(2.5)
    assert _caller(client, caplog, head) == "addr:testclient"


def test_a_token_signed_with_another_secret_is_anonymous(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    head = _token("not-the-secret-" + TEST_SECRET, 60.0)
    assert _caller(client, caplog, head) == "addr:testclient"
    assert _caller(client, caplog, head) == "addr:testclient"
