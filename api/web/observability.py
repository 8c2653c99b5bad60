"""Seeing it run (SPEC §9): one JSON log line per request, and the /metrics exposition.

Logs are the standard library's, rendered by python-json-logger's formatter on one root
handler, so uvicorn's error log, our access line and every `log.exception` come out as JSON
lines on stderr; uvicorn's own access log is switched off in favour of ours, which knows the
route template, the caller and the request id.
"""

import logging
import os
import re
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import fastapi.routing
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from pythonjsonlogger.json import JsonFormatter
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.core import metrics
from api.core.request_context import request_id
from api.infra.settings import Settings
from api.web.credentials import credential_of

ACCESS = logging.getLogger("smartvillage.access")
UNMATCHED = "unmatched"  # the label of requests no route matched: never the raw path


class LogFormatter(JsonFormatter):
    """JSON with `time` (UTC, ISO 8601), `level`, `logger`, `message` and the request id."""

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        log_data["time"] = datetime.fromtimestamp(record.created, UTC).isoformat(
            timespec="milliseconds"
        )
        log_data["level"] = record.levelname
        log_data["logger"] = record.name
        super().add_fields(log_data, record, message_dict)
        current = request_id.get()
        if current and "request_id" not in log_data:
            log_data["request_id"] = current


# StreamHandler is generic in typeshed only; subscripting it fails at runtime.
class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is at the time (test runners swap it)."""

    is_smartvillage = True

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure_logging(settings: Settings) -> None:
    """JSON lines on stderr for every logger at `settings.log_level`; uvicorn's error log
    joins them and its access log is off (ours replaces it). Safe to call again."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "is_smartvillage", False):
            root.removeHandler(handler)
    handler = _StderrHandler()
    handler.setFormatter(LogFormatter())
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    access = logging.getLogger("uvicorn.access")
    access.handlers.clear()
    access.propagate = False  # no handler anywhere: uvicorn skips its access lines


def uvicorn_log_config(settings: Settings) -> dict[str, Any]:
    """A `log_config` for `uvicorn.run`, so that its start-up lines are JSON too."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "api.web.observability.LogFormatter"}},
        # The same handler class configure_logging replaces, so lines are never doubled.
        "handlers": {
            "stderr": {"class": "api.web.observability._StderrHandler", "formatter": "json"}
        },
        "root": {"handlers": ["stderr"], "level": settings.log_level.upper()},
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": False},
        },
    }


@dataclass(frozen=True)
class RouteTemplates:
    """Each route's full path template, by route object and as a pattern to match."""

    by_route: dict[int, str]
    patterns: list[tuple[re.Pattern[str], str]]


def _templates_of(app: Any) -> RouteTemplates:
    """Built once per app: FastAPI keeps included routers nested, so a matched route's own
    `path` lacks the include prefix (`/api/v1`); its route context has the full template."""
    cached = getattr(app.state, "route_templates", None)
    if isinstance(cached, RouteTemplates):
        return cached
    iterate = getattr(fastapi.routing, "iter_route_contexts", None)
    contexts: Iterable[Any] = iterate(app.routes) if iterate else app.routes
    by_route: dict[int, str] = {}
    patterns: list[tuple[re.Pattern[str], str]] = []
    for context in contexts:
        template = getattr(context, "path_format", None) or getattr(context, "path", None)
        if isinstance(template, str):
            by_route[id(getattr(context, "original_route", context))] = template
            patterns.append((compile_path(template)[0], template))
    app.state.route_templates = RouteTemplates(by_route, patterns)
    # app.state is untyped (Starlette State); the isinstance check above holds.
    return app.state.route_templates  # type: ignore[no-any-return]


def route_template(scope: Scope) -> str:
    """The matched route's path template (`/api/v1/villages/{village_code}/score`), found
    by pattern when the answer came before routing (a replay, a refusal); else UNMATCHED."""
    templates = _templates_of(scope["app"])
    route = scope.get("route")
    if route is not None and id(route) in templates.by_route:
        return templates.by_route[id(route)]
    path = scope["path"]
    for pattern, template in templates.patterns:
        if pattern.match(path):
            return template
    return UNMATCHED


class ObservabilityMiddleware:
    """Counts and times every request and logs it as one JSON line when it ends."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless the app answers otherwise

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            _record(scope, status, time.perf_counter() - started)


def _record(scope: Scope, status: int, seconds: float) -> None:
    method, route = scope["method"], route_template(scope)
    metrics.REQUESTS.labels(method, route, str(status)).inc()
    metrics.LATENCY.labels(method, route).observe(seconds)
    state = scope["app"].state
    if hasattr(state, "engine"):
        refresh_pool_gauges(state.engine)
    settings: Settings = state.settings
    ACCESS.info(
        "%s %s %s",
        method,
        route,
        status,
        extra={
            "request_id": request_id.get(),
            "caller": _caller(scope, settings),
            "method": method,
            "route": route,
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
            "pid": os.getpid(),
        },
    )


def _caller(scope: Scope, settings: Settings) -> str:
    """`user:<name>`, `key:<digest>` or `addr:<address>`: never a token or a password."""
    try:
        return credential_of(scope, secret=settings.signing_secret())
    except RuntimeError:  # no secret resolved yet (start-up): no token can be valid
        return credential_of(scope, secret="")


def refresh_pool_gauges(engine: AsyncEngine) -> None:
    """Copy the pool's size and connections in use into the gauges (pools without those
    counters, such as SQLite's in-memory one, leave them alone)."""
    pool = engine.pool
    size, checked_out = getattr(pool, "size", None), getattr(pool, "checkedout", None)
    if callable(size) and callable(checked_out):
        metrics.POOL_SIZE.set(size())
        metrics.POOL_CHECKED_OUT.set(checked_out())


def worker_exited(pid: int) -> None:
    """Forget a dead worker's live gauges (its counters stay counted) in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        mark_process_dead(pid)  # type: ignore[no-untyped-call]  # prometheus-client leaves it untyped


def exposition(engine: AsyncEngine | None) -> tuple[bytes, str]:
    """The Prometheus text exposition and its media type (all workers' values when
    `PROMETHEUS_MULTIPROC_DIR` is set, else this worker's)."""
    if engine is not None:
        refresh_pool_gauges(engine)
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        # prometheus-client leaves MultiProcessCollector untyped.
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry), CONTENT_TYPE_LATEST
