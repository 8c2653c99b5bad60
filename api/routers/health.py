"""Liveness and readiness probes, at the root."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from api.errors import PROBLEM_RESPONSES, problem_response

router = APIRouter(tags=["health"])


@router.get("/healthz", status_code=200)
async def get_healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", status_code=200, responses={503: PROBLEM_RESPONSES[503]})
async def get_readyz(request: Request) -> JSONResponse:
    """The database answers a trivial query (200), else 503."""
    try:
        async with request.app.state.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError) as exc:
        return problem_response(
            request,
            status=503,
            title="Service unavailable",
            detail=f"The database is not reachable ({type(exc).__name__}).",
            headers={"Retry-After": "5"},
        )
    return JSONResponse({"status": "ready"})
