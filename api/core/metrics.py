"""The Prometheus metrics the API exposes at /metrics; no web imports, so services may count.

With `PROMETHEUS_MULTIPROC_DIR` set before start-up (several workers), prometheus-client
keeps each worker's values in files there and /metrics sums them; without it, each worker
counts on its own and a scrape sees the worker that answered it.
"""

from prometheus_client import Counter, Gauge, Histogram

REQUESTS = Counter(
    "smartvillage_http_requests",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "smartvillage_http_request_duration_seconds",
    "Time from the request's arrival to the end of its answer, by method and route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
POOL_SIZE = Gauge(
    "smartvillage_db_pool_size",
    "Connections the database pool keeps open (summed over live workers).",
    multiprocess_mode="livesum",
)
POOL_CHECKED_OUT = Gauge(
    "smartvillage_db_pool_checked_out",
    "Pooled database connections in use right now (summed over live workers).",
    multiprocess_mode="livesum",
)
RESCORED = Counter(
    "smartvillage_rescored_scores",
    "Village-period scores recomputed (by submissions, publishing or retiring criteria sets).",
)
