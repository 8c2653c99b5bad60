"""Liveness and readiness probes, at the root."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

router = APIRouter(tags=["health"])


@router.get("/healthz", status_code=200)
async def get_healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", status_code=200, responses={503: {"description": "Database unreachable"}})
async def get_readyz(request: Request) -> JSONResponse:
    """The database answers a trivial query (200), else 503."""
    try:
        async with request.app.state.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError) as exc:
        body = {"status": "unavailable", "detail": type(exc).__name__}
        return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})
    return JSONResponse({"status": "ready"})
