"""The application factory: engine in the lifespan, routers, problem handlers, ETags."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from api.infra.db import engine_for, make_sessionmaker
from api.infra.reads import Reads
from api.infra.settings import Settings, get_settings
from api.routers import health, metrics, v1_router
from api.services.instance import with_token_secret
from api.web.errors import PROBLEM_JSON, install_error_handlers
from api.web.etag import ETagMiddleware
from api.web.hot_reads import HotReadsMiddleware
from api.web.idempotency import IdempotencyMiddleware
from api.web.limits import BodyLimitMiddleware
from api.web.observability import ObservabilityMiddleware, configure_logging
from api.web.policy import Memory, is_public
from api.web.rate_limit import RateLimitMiddleware
from api.web.request_id import RequestIdMiddleware

API_PREFIX = "/api/v1"


def _operation_id(route: APIRoute) -> str:
    return route.name


def _problem_only_openapi(app: FastAPI) -> None:
    """Error responses are problem+json only (FastAPI also lists application/json); a
    public route (its policy needs no credentials) declares no security."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            for path in schema.get("paths", {}).values():
                for operation in path.values():
                    if is_public(operation.get("operationId", "")):
                        operation.pop("security", None)
                    for status, response in operation.get("responses", {}).items():
                        content = response.get("content", {})
                        if status[0] in "45" and PROBLEM_JSON in content:
                            content.pop("application/json", None)
        # FastAPI types openapi_schema as Optional; it was set just above.
        return app.openapi_schema  # type: ignore[return-value]

    # Replacing app.openapi is FastAPI's documented extension point; mypy sees a method.
    app.openapi = openapi  # type: ignore[method-assign]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Engine and sessions for the app's settings; the token secret resolved (SPEC §9)."""
    settings: Settings = app.state.settings
    configure_logging(settings)
    engine = engine_for(settings)
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.reads = Reads(engine, settings)
    await app.state.reads.open()
    try:
        # Requests read the secret from app.state.settings: demo's lives in the database.
        app.state.settings = await with_token_secret(settings, app.state.sessionmaker)
        yield
    finally:
        app.state.settings = settings
        await app.state.reads.close()
        await engine.dispose()


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the API for `settings` (default: from the environment); nothing connects yet."""
    settings = settings or get_settings()
    app = FastAPI(
        title="Smart-village criteria API",
        version="1.0.0",
        description=(
            "Vietnam's smart-village (thôn thông minh) criteria as data: indicator "
            "submissions, exact scoring with gaps, rankings and roll-ups."
        ),
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
    )
    app.state.settings = settings
    app.state.memory = Memory()
    app.state.hot_reads = True  # tests turn it off to compare with the routes' answers
    install_error_handlers(app)
    app.add_middleware(HotReadsMiddleware)  # innermost: everything else still applies
    app.add_middleware(IdempotencyMiddleware)
    app.add_middleware(RateLimitMiddleware)
    app.add_middleware(BodyLimitMiddleware)
    app.add_middleware(ETagMiddleware)
    app.add_middleware(ObservabilityMiddleware)
    app.add_middleware(RequestIdMiddleware)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(v1_router, prefix=API_PREFIX)
    _problem_only_openapi(app)
    return app
