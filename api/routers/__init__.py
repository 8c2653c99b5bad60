"""Routers, one per resource; `v1_router` mounts them all under /api/v1."""

from fastapi import APIRouter

from api.errors import PROBLEM_RESPONSES
from api.routers import criteria_sets, scores, submissions, units

v1_router = APIRouter(responses=PROBLEM_RESPONSES)
for _module in (units, criteria_sets, submissions, scores):
    v1_router.include_router(_module.router)

__all__ = ["v1_router"]
