"""Seeing it run (SPEC §9): one JSON log line per request, /metrics, request ids on 500s."""

import json
import logging
import re
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.app import create_app
from api.infra.settings import Settings
from api.web.observability import LogFormatter, configure_logging
from tests.accounts import TEST_SECRET, bearer, make_user
from tests.api.conftest import V, ha_nam_values, put_values
from tests.served import served

PROBLEM = "application/problem+json"
DONG, PERIOD = "37-13402-DONG", "2026Q1"
SCORE_ROUTE = "/api/v1/villages/{village_code}/score"
LINE_FIELDS = {"time", "request_id", "caller", "method", "route", "status", "duration_ms"}


def _access_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    formatter = LogFormatter()
    records = [r for r in caplog.records if r.name == "smartvillage.access"]
    return [json.loads(formatter.format(r)) for r in records]


@pytest.mark.usefixtures("tree", "reference")
def test_request_logs_one_json_line_with_route_template(
    client: TestClient, head: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    put_values(client, DONG, PERIOD, ha_nam_values(), headers=head)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="smartvillage.access"):
        response = client.get(f"{V}/villages/{DONG}/score", headers=head)
    lines = _access_lines(caplog)
    assert len(lines) == 1
    line = lines[0]
    assert set(line) >= LINE_FIELDS
    assert line["request_id"] == response.headers["x-request-id"]
    assert (line["method"], line["route"], line["status"]) == ("GET", SCORE_ROUTE, 200)
    assert line["caller"] == "user:head-dong"
    assert isinstance(line["duration_ms"], float)
    assert str(line["time"]).endswith("+00:00")
    assert head["Authorization"].split()[1] not in json.dumps(line)


def test_uvicorn_access_log_is_off_and_its_error_log_is_json(settings: Settings) -> None:
    configure_logging(settings)
    assert not logging.getLogger("uvicorn.access").hasHandlers()
    error_log = logging.getLogger("uvicorn.error")
    assert error_log.propagate
    assert not error_log.handlers
    ours = [h for h in logging.getLogger().handlers if isinstance(h.formatter, LogFormatter)]
    assert len(ours) == 1
    record = error_log.makeRecord("uvicorn.error", logging.INFO, "x", 1, "Started", (), None)
    assert json.loads(ours[0].format(record))["message"] == "Started"


@pytest.mark.usefixtures("tree", "reference")
def test_metrics_count_requests_by_route_template_without_codes(
    client: TestClient, head: dict[str, str]
) -> None:
    put_values(client, DONG, PERIOD, ha_nam_values(), headers=head)
    for _ in range(3):
        assert client.get(f"{V}/villages/{DONG}/score", headers=head).status_code == 200
    assert client.get(f"/no/such/{DONG}").status_code == 404
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert DONG not in text
    assert "head-dong" not in text
    pattern = (
        r'smartvillage_http_requests_total\{method="GET",'
        r'route="/api/v1/villages/\{village_code\}/score",status="200"\} (\d+)'
    )
    found = re.search(pattern, text)
    assert found, text
    assert float(found.group(1)) >= 3
    assert 'route="unmatched",status="404"' in text
    assert "smartvillage_http_request_duration_seconds_bucket{" in text
    assert re.search(r"^smartvillage_db_pool_checked_out \d", text, re.MULTILINE)
    assert "smartvillage_rescored_scores_total" in text


def test_metrics_off_returns_404(
    database_url: str, db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMARTVILLAGE_METRICS", "off")
    app = create_app(Settings(database_url=database_url, secret_key=TEST_SECRET, rate_limit=0))
    with TestClient(app) as client:
        response = client.get("/metrics")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM


def test_unhandled_error_returns_500_problem_with_request_id(app: FastAPI) -> None:
    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom", headers={"X-Request-ID": "trace-500"})
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["x-request-id"] == "trace-500"
    assert response.json()["detail"] == "An unexpected error occurred."


def test_served_app_logs_json_lines_only_ours_for_requests(
    database_url: str, db: Engine, tmp_path: Path
) -> None:
    token = make_user(db, "root", "admin")
    log = tmp_path / "serve.log"
    env = {"SMARTVILLAGE_LOG_LEVEL": "INFO"}
    with served(database_url, workers=1, env=env, log=log) as base_url:
        response = httpx.get(f"{base_url}{V}/units", headers=bearer(token))
        assert response.status_code == 200
        assert httpx.get(f"{base_url}/metrics").status_code == 200
    lines = log.read_text().splitlines()
    assert not [line for line in lines if "GET /api/v1/units HTTP/1.1" in line]  # uvicorn's
    ours = [json.loads(line) for line in lines if '"smartvillage.access"' in line]
    units = [line for line in ours if line["route"] == "/api/v1/units"]
    assert len(units) == 1
    assert units[0]["request_id"] == response.headers["x-request-id"]
    assert units[0]["caller"] == "user:root"
    started = [line for line in lines if "Application startup complete" in line]
    assert started
    assert json.loads(started[-1])["logger"] == "uvicorn.error"


def test_served_workers_share_counts_in_multiprocess_mode(
    database_url: str, db: Engine, tmp_path: Path
) -> None:
    env = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    with served(database_url, workers=2, env=env) as base_url:
        for _ in range(20):  # a connection each, so that both workers answer some
            assert httpx.get(f"{base_url}/healthz").status_code == 200
        scrapes = [httpx.get(f"{base_url}/metrics").text for _ in range(6)]
    route = r'method="GET",route="/healthz",status="200"'
    counts = [float(re.findall(r"_requests_total\{" + route + r"\} (\S+)", t)[0]) for t in scrapes]
    assert min(counts) >= 20  # whichever worker answers, it reports both workers' requests
