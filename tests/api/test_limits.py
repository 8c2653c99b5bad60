"""Request-body limits (SPEC §9 "Bodies"): 413 before the body is read, 413 mid-stream, 408."""

import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.infra.settings import Settings
from tests.accounts import bearer
from tests.api.conftest import V, ha_nam_values
from tests.served import served

pytestmark = pytest.mark.usefixtures("tree")
PROBLEM = "application/problem+json"
DONG = "37-13402-DONG"
PUT_URL = f"{V}/villages/{DONG}/submissions/2026Q1"
IMPORT_URL = f"{V}/units/import"
MAX_BODY = 1024 * 1024
CSV_HEADER = b"code,name,level,parent_code,lat,lon\n"


def _assert_problem(response: Any, status: int) -> None:
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    assert set(body) == {"type", "title", "status", "detail", "instance"}
    assert len(response.content) < 400  # small, and never an echo of the input


def _padded_values(size: int) -> bytes:
    """A valid submission body of exactly `size` bytes (JSON padded with spaces)."""
    raw = json.dumps({"values": ha_nam_values()}).encode()
    assert len(raw) <= size
    return raw + b" " * (size - len(raw))


@pytest.fixture
def small_client(settings: Settings, admin_token: str) -> Iterator[TestClient]:
    """An admin client of an app whose limits are 4 KiB (bodies) and 16 KiB (imports)."""
    app = create_app(settings.model_copy(update={"max_body": 4096, "max_import": 16384}))
    with TestClient(app, headers=bearer(admin_token)) as test_client:
        yield test_client


@pytest.mark.usefixtures("reference")
def test_put_body_of_exactly_max_body_returns_201(client: TestClient) -> None:
    response = client.put(PUT_URL, content=_padded_values(MAX_BODY), headers=_json())
    assert response.status_code == 201, response.text


@pytest.mark.usefixtures("reference")
def test_put_with_content_length_over_max_body_returns_413(client: TestClient) -> None:
    response = client.put(PUT_URL, content=_padded_values(MAX_BODY + 1), headers=_json())
    _assert_problem(response, 413)
    assert response.json()["type"].endswith("/payload-too-large")
    assert response.json()["instance"] == PUT_URL
    assert client.get(PUT_URL).status_code == 404  # nothing stored


def test_import_over_max_body_but_under_max_import_is_not_413(small_client: TestClient) -> None:
    csv = CSV_HEADER + b"35,Ha Nam,province,,,\n" + b"\n" * 8000
    response = small_client.post(IMPORT_URL, content=csv, headers={"content-type": "text/csv"})
    assert response.status_code == 200, response.text


def test_import_with_content_length_over_max_import_returns_413(small_client: TestClient) -> None:
    csv = CSV_HEADER + b"35,Ha Nam,province,,,\n" + b"\n" * 16384
    response = small_client.post(IMPORT_URL, content=csv, headers={"content-type": "text/csv"})
    _assert_problem(response, 413)
    assert small_client.get(f"{V}/units/35").status_code == 404


def test_put_over_max_body_in_chunks_without_length_returns_413(small_client: TestClient) -> None:
    chunks = (b" " * 1024 for _ in range(8))  # no Content-Length: Transfer-Encoding: chunked
    response = small_client.put(PUT_URL, content=chunks, headers=_json())
    _assert_problem(response, 413)


def _json() -> dict[str, str]:
    return {"content-type": "application/json"}


# --- against a real server: what a socket-level client sees --------------------------------


@pytest.fixture(scope="module")
def live_url(database_url: str) -> Iterator[str]:
    env = {"SMARTVILLAGE_BODY_TIMEOUT_SECONDS": "1", "SMARTVILLAGE_RATE_LIMIT": "0"}
    with served(database_url, workers=1, env=env) as base_url:
        yield base_url


def _head(token: str, length: int) -> bytes:
    return (
        f"PUT {PUT_URL} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


def _raw_exchange(base_url: str, request: bytes, *, timeout: float = 10.0) -> tuple[bytes, float]:
    """Send `request` on a fresh connection; the whole answer and the seconds it took."""
    host, port = base_url.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer, time.monotonic() - started


def test_announced_body_over_limit_sent_nothing_returns_413_at_once(
    live_url: str, admin_token: str
) -> None:
    answer, seconds = _raw_exchange(live_url, _head(admin_token, 10 * 1024 * 1024))
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b"content-type: application/problem+json" in answer.lower()
    assert seconds < 0.9  # before any timeout: the announced length alone decides


def test_stalled_body_returns_408_after_body_timeout(live_url: str, admin_token: str) -> None:
    answer, seconds = _raw_exchange(live_url, _head(admin_token, 100) + b'{"values": ')
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b"content-type: application/problem+json" in answer.lower()
    assert 0.9 <= seconds < 5


def test_streamed_body_over_limit_is_cut_off_with_413(live_url: str, admin_token: str) -> None:
    sent = 0

    def chunks() -> Iterator[bytes]:
        nonlocal sent
        for _ in range(64 * 1024):  # 4 GiB if the server read it all
            sent += 65536
            yield b" " * 65536

    try:
        response = httpx.put(
            live_url + PUT_URL,
            content=chunks(),
            headers=_json() | bearer(admin_token),
            timeout=20,
        )
    except httpx.WriteError:
        return _stream_cut_off(sent)  # the server closed while we were still writing
    _assert_problem(response, 413)
    _stream_cut_off(sent)


def _stream_cut_off(sent: int) -> None:
    # Socket buffers let the client run ahead a little, never to the end of the stream.
    assert sent < 64 * MAX_BODY
