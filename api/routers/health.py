"""Liveness and readiness probes, at the root."""

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from api.web.errors import PROBLEM_RESPONSES, RETRY_AFTER_SECONDS, problem_response

router = APIRouter(tags=["health"])
READY_TIMEOUT_SECONDS = 2.0


@router.get("/healthz", status_code=200)
async def get_healthz() -> dict[str, str]:
    """The process is up (whatever the database does)."""
    return {"status": "ok"}


async def _ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


@router.get("/readyz", status_code=200, responses={503: PROBLEM_RESPONSES[503]})
async def get_readyz(request: Request) -> JSONResponse:
    """The database answers a trivial query within two seconds (200), else 503."""
    try:
        await asyncio.wait_for(_ping(request.app.state.engine), READY_TIMEOUT_SECONDS)
    except Exception as exc:  # any failure to answer means "not ready"; never a 500 here
        return problem_response(
            request,
            status=503,
            title="Service unavailable",
            detail=f"The database is not reachable ({type(exc).__name__}).",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    return JSONResponse({"status": "ready"})
