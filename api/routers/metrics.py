"""The Prometheus scrape endpoint, at the root (outside /api/v1 and its policy)."""

from fastapi import APIRouter, Request, Response

from api.core.problems import NotFound
from api.web import observability

router = APIRouter(tags=["metrics"], include_in_schema=False)


@router.get("/metrics", status_code=200)
async def get_metrics(request: Request) -> Response:
    """Requests by route template and status, latencies, database pool use, rescoring work."""
    if request.app.state.settings.metrics == "off":
        raise NotFound("Metrics are switched off (SMARTVILLAGE_METRICS=off).")
    body, media_type = observability.exposition(getattr(request.app.state, "engine", None))
    return Response(body, media_type=media_type)
