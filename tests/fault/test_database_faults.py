"""The database failing under a served API (SPEC §9): 503 + Retry-After, then back by itself.

Each test owns a PostgreSQL cluster (tests/fault/cluster.py), spawns a real `smartvillage
serve` with two workers, and stops everything it started, pass or fail. Run with `-s` to see
the figures they print.
"""

import os
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import psycopg
from sqlalchemy import text

from api.infra.db import make_sync_engine
from api.infra.migrate import upgrade
from criteria.loader import SETS_DIR
from tests.accounts import bearer, make_user
from tests.factories import make_tree
from tests.fault.cluster import Cluster
from tests.fault.load import Load, bad_answers, first_success_after, summary, timeline
from tests.served import served, wait_until_up

SERVE_ENV = {"SMARTVILLAGE_RATE_LIMIT": "1000000", "SMARTVILLAGE_LOG_LEVEL": "WARNING"}
QUIET_ENV = {**SERVE_ENV, "SMARTVILLAGE_RATE_LIMIT": "0"}
RECOVERY_SECONDS = 5.0


def report(title: str, figures: object) -> None:
    print(f"\n[fault] {title}: {figures}", flush=True)


def prepare(url: str) -> str:
    """Migrate, add units, an admin and the published reference criteria set; the admin's token."""
    upgrade(url)
    engine = make_sync_engine(url)
    try:
        make_tree(engine)
        token = make_user(engine, "root", "admin")
    finally:
        engine.dispose()
    env = {**os.environ, "DATABASE_URL": url}
    subprocess.run(
        [sys.executable, "-m", "api.cli", "load-criteria", str(SETS_DIR / "ttm-reference.yaml")],
        env=env, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return token


def stored_notes(url: str) -> set[str]:
    """The notes of every submission revision in the database: what was really committed."""
    engine = make_sync_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT note FROM submission_revision WHERE note IS NOT NULL"))
            return {row[0] for row in rows}
    finally:
        engine.dispose()


def run_outage(cluster: Cluster, load: Load) -> tuple[float, float]:
    """Traffic for 6 s, PostgreSQL stopped for 8 s, then 8 s more; (stopped_at, ready_at)."""
    driver = threading.Thread(target=load.run)
    driver.start()
    try:
        time.sleep(6)
        stopped_at = time.monotonic()
        cluster.stop("fast")
        time.sleep(8)
        cluster.start()
        ready_at = cluster.wait_ready()
        time.sleep(8)
    finally:
        load.stop()
        driver.join(timeout=60)
    return stopped_at, ready_at


def test_outage_answers_503_and_recovers_without_losing_writes(
    cluster: Cluster, tmp_path: Path
) -> None:
    cluster.start()
    token = prepare(cluster.url)
    with served(cluster.url, workers=2, env=SERVE_ENV, log=tmp_path / "serve.log") as base:
        load = Load(base, bearer(token), rate=20.0)
        stopped_at, ready_at = run_outage(cluster, load)
    answers = load.answers
    recovered = first_success_after(answers, ready_at)
    late_503 = [a for a in answers if a.status == 503 and a.sent > ready_at + RECOVERY_SECONDS]
    during = [a for a in answers if stopped_at <= a.sent <= ready_at]
    acknowledged = {a.note for a in answers if a.kind == "put" and 200 <= a.status < 300}
    lost = acknowledged - stored_notes(cluster.url)
    report("whole run", summary(answers))
    report("sent while the database was down or starting", summary(during))
    report("database ready, s after the stop", round(ready_at - stopped_at, 2))
    recovery = None if recovered is None else round(recovered - ready_at, 2)
    report("recovery (first 2xx after pg_isready said ready), s", recovery)
    report(f"acknowledged writes ({len(acknowledged)}) missing afterwards", len(lost))
    report("per second since the stop (by send time)", timeline(answers, stopped_at))
    assert not bad_answers(answers), bad_answers(answers)[:5]
    assert any(a.status == 503 for a in during), "the outage was not seen"
    assert recovered is not None
    assert recovered - ready_at <= RECOVERY_SECONDS
    assert not late_503, late_503[:5]
    assert not lost


def test_serve_started_before_database_waits_then_migrates(
    cluster: Cluster, tmp_path: Path
) -> None:
    log = tmp_path / "serve.log"
    with served(cluster.url, workers=2, env=SERVE_ENV, log=log, wait=False) as base:
        time.sleep(5)
        cluster.start()
        started_at = cluster.wait_ready()
        wait_until_up(base, timeout=15, path="/readyz")
        up_after = time.monotonic() - started_at
        with psycopg.connect(cluster.url, connect_timeout=5) as conn:
            tables = {row[0] for row in conn.execute("SELECT tablename FROM pg_tables")}
    output = log.read_text()
    report("readyz 200 after the cluster came up, s", round(up_after, 2))
    assert {"alembic_version", "submission", "instance_secret"} <= tables
    assert "waiting for the database" in output
    assert "Traceback" not in output


def test_request_blocked_by_lock_answers_503_at_statement_timeout(
    cluster: Cluster, tmp_path: Path
) -> None:
    cluster.start()
    token = prepare(cluster.url)
    env = {**SERVE_ENV, "SMARTVILLAGE_STATEMENT_TIMEOUT": "0.5"}
    path = "/api/v1/villages/37-13402-DONG/submissions/2025Q1"
    with (
        served(cluster.url, workers=2, env=env, log=tmp_path / "serve.log") as base,
        psycopg.connect(cluster.url, connect_timeout=5) as locker,
    ):
        locker.execute("LOCK TABLE submission IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        response = httpx.put(base + path, json={"values": {}}, headers=bearer(token), timeout=30)
        elapsed = time.monotonic() - started
        locker.rollback()
        after = httpx.get(base + "/readyz", timeout=10)
    report("locked PUT answered, s", round(elapsed, 2))
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"]
    assert response.headers["content-type"] == "application/problem+json"
    assert elapsed < 3
    assert after.status_code == 200


def test_quiet_restart_does_not_fail_the_next_requests(cluster: Cluster, tmp_path: Path) -> None:
    cluster.start()
    token = prepare(cluster.url)
    with (
        # No rate limiter: its own query would meet the stale connection first.
        served(cluster.url, workers=2, env=QUIET_ENV, log=tmp_path / "serve.log") as base,
        httpx.Client(base_url=base, headers=bearer(token), timeout=15) as client,
    ):
        # Warm both workers' pools, then restart the database while nobody asks anything.
        warm = [client.get("/api/v1/units").status_code for _ in range(20)]
        cluster.stop("fast")
        cluster.start()
        cluster.wait_ready()
        after = [client.get("/api/v1/units").status_code for _ in range(20)]
    report("statuses after a quiet restart", dict(Counter(after)))
    assert set(warm) == {200}
    assert set(after) == {200}, "a stale pooled connection reached a request (pre-ping?)"


def test_replicas_migrating_at_once_both_succeed(cluster: Cluster) -> None:
    cluster.start()
    env = {**os.environ, "DATABASE_URL": cluster.url}
    command = [sys.executable, "-m", "api.cli", "migrate"]
    migrators = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for _ in range(3)
    ]
    outputs = []
    for proc in migrators:
        try:
            out, _ = proc.communicate(timeout=120)
        finally:
            proc.kill()
        outputs.append((proc.returncode, out.decode()[-500:]))
    assert all(code == 0 for code, _ in outputs), outputs
