"""Latency of the hot read endpoints against a real uvicorn process on 127.0.0.1.

    python bench/bench_reads.py --database-url postgresql://postgres@127.0.0.1:5432/sv_bench_x

Migrates the database to head, makes sure an admin account `bench-reader` exists, signs a
bearer token for it with a per-run secret (given to the server), picks the province with the
most villages, its largest commune and one of its villages, then times each endpoint
sequentially (10 warm-up requests first) with httpx.
"""

import argparse
import os
import secrets
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import create_engine, insert, select, text

from api.core.security import create_token, hash_password
from api.infra.migrate import upgrade
from api.infra.settings import to_sync_url
from models.accounts import UserAccount

ROOT = Path(__file__).resolve().parent.parent
WARMUP = 10
READER = "bench-reader"
LARGEST = """
    SELECT p.code, c.code, v.code
    FROM unit v JOIN unit c ON c.id = v.commune_id JOIN unit p ON p.id = v.province_id
    WHERE v.level = 'village'
      AND v.province_id = (SELECT province_id FROM unit WHERE level = 'village'
                           GROUP BY province_id ORDER BY count(*) DESC, province_id LIMIT 1)
      AND v.commune_id = (SELECT commune_id FROM unit WHERE level = 'village'
                          AND province_id = v.province_id
                          GROUP BY commune_id ORDER BY count(*) DESC, commune_id LIMIT 1)
    ORDER BY v.code LIMIT 1
"""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--requests", type=int, default=200, help="timed requests per endpoint")
    return parser.parse_args()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prepare(database_url: str) -> tuple[str, str, str]:
    """Schema at head, the bench account present; returns (province, commune, village) codes."""
    upgrade(database_url)
    accounts = UserAccount.__table__  # type: ignore[attr-defined]
    engine = create_engine(to_sync_url(database_url))
    try:
        with engine.begin() as conn:
            if conn.scalar(select(accounts.c.id).where(accounts.c.username == READER)) is None:
                password = hash_password(secrets.token_urlsafe(16))
                conn.execute(
                    insert(accounts).values(
                        username=READER, password_hash=password, role="admin", is_active=True,
                        created_at=datetime.now(UTC),
                    )
                )  # fmt: skip
            row = conn.execute(text(LARGEST)).one()
    finally:
        engine.dispose()
    return str(row[0]), str(row[1]), str(row[2])


@contextmanager
def server(database_url: str, secret: str) -> Iterator[str]:
    """Run uvicorn on a free local port until the block ends; yields its base URL."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "SMARTVILLAGE_SECRET_KEY": secret}
    command = [
        sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    proc = subprocess.Popen(command, cwd=ROOT, env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(base, proc)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_ready(base: str, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"the server exited with status {proc.returncode}")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    sys.exit(f"the server was not ready within {timeout:.0f} s")


def timed(client: httpx.Client, path: str, count: int) -> list[float]:
    """Milliseconds per request, after the warm-up; any non-200 stops the run."""
    samples = []
    for i in range(WARMUP + count):
        start = time.perf_counter()
        response = client.get(path)
        elapsed = (time.perf_counter() - start) * 1000
        if response.status_code != 200:
            sys.exit(f"GET {path} -> {response.status_code}: {response.text[:300]}")
        if i >= WARMUP:
            samples.append(elapsed)
    return samples


def report(name: str, samples: list[float]) -> None:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * len(ordered)) - 1)]
    rate = 1000 * len(samples) / sum(samples)
    print(f"{name:<34}{statistics.median(ordered):>9.1f}{p95:>9.1f}{ordered[-1]:>9.1f}{rate:>9.1f}")


def scenarios(client: httpx.Client, codes: tuple[str, str, str]) -> dict[str, str]:
    """Endpoint label → path; the second ranking page follows the first page's cursor."""
    province, commune, village = codes
    first = client.get(f"/api/v1/units/{province}/scores", params={"limit": 50})
    first.raise_for_status()
    cursor = first.json()["next_cursor"]
    page2 = httpx.URL(f"/api/v1/units/{province}/scores", params={"limit": 50, "cursor": cursor})
    return {
        "province ranking (limit=50)": f"/api/v1/units/{province}/scores?limit=50",
        "province ranking, page 2": str(page2),
        "province summary": f"/api/v1/units/{province}/summary",
        "commune ranking (limit=50)": f"/api/v1/units/{commune}/scores?limit=50",
        "commune summary": f"/api/v1/units/{commune}/summary",
        "village score": f"/api/v1/villages/{village}/score",
    }


def main() -> None:
    args = parse_args()
    codes = prepare(args.database_url)
    print(f"province {codes[0]}, commune {codes[1]}, village {codes[2]}; {args.requests} requests")
    secret = secrets.token_urlsafe(32)
    token, _ = create_token(secret=secret, username=READER, minutes=60)
    headers = {"Authorization": f"Bearer {token}"}
    with (
        server(args.database_url, secret) as base,
        httpx.Client(base_url=base, headers=headers, timeout=30) as client,
    ):
        print(f"{'endpoint':<34}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'req/s':>9}")
        for name, path in scenarios(client, codes).items():
            report(name, timed(client, path, args.requests))


if __name__ == "__main__":
    main()
