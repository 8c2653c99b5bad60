"""The database failing under the reads dashboards poll (a village's score, a ranking page,
a summary), which run on their own asyncpg pool (`api.infra.reads`): 503 + Retry-After
while it is down, and every answer 200 again after a restart, stale connections and all."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from api.seed.demo import BASE_VALUES
from tests.accounts import bearer
from tests.fault.cluster import Cluster
from tests.fault.test_database_faults import QUIET_ENV, prepare, report
from tests.served import served

# The summary first: it reads the pool directly, where the hot path's fall-through to the
# route would hide a stale connection's first failure.
READS = [
    "/api/v1/units/37/summary",
    "/api/v1/villages/37-13402-DONG/score",
    "/api/v1/units/37/scores?limit=5",
]


def _statuses(client: httpx.Client, rounds: int) -> list[int]:
    return [client.get(path).status_code for _ in range(rounds) for path in READS]


@contextmanager
def _scored(base: str, token: str) -> Iterator[httpx.Client]:
    """A client of the served API, after one village was scored."""
    with httpx.Client(base_url=base, headers=bearer(token), timeout=15) as client:
        path = "/api/v1/villages/37-13402-DONG/submissions/2026Q1"
        put = client.put(path, json={"values": dict(BASE_VALUES)})
        assert put.status_code == 201, put.text
        yield client


def test_hot_reads_answer_503_while_the_database_is_down(cluster: Cluster, tmp_path: Path) -> None:
    cluster.start()
    token = prepare(cluster.url)
    log = tmp_path / "serve.log"
    with (
        served(cluster.url, workers=1, env=QUIET_ENV, log=log) as base,
        _scored(base, token) as client,
    ):
        assert set(_statuses(client, 5)) == {200}
        cluster.stop("fast")
        down = [client.get(path) for path in READS]
        cluster.start()
        cluster.wait_ready()
        after = _statuses(client, 10)
    report("reads while down", [r.status_code for r in down])
    for response in down:
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"]
        assert response.headers["content-type"] == "application/problem+json"
    assert set(after) == {200}


def test_a_quiet_restart_does_not_fail_the_next_hot_reads(cluster: Cluster, tmp_path: Path) -> None:
    cluster.start()
    token = prepare(cluster.url)
    log = tmp_path / "serve.log"
    with (
        served(cluster.url, workers=1, env=QUIET_ENV, log=log) as base,
        _scored(base, token) as client,
    ):
        warm = _statuses(client, 10)  # several pooled connections, all soon stale
        cluster.stop("fast")
        cluster.start()
        cluster.wait_ready()
        after = _statuses(client, 10)
    report("hot reads after a quiet restart", after)
    assert set(warm) == {200}
    assert set(after) == {200}, "a stale pooled connection reached a read"
