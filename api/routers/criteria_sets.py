"""Placeholder router: criteria_sets."""

from fastapi import APIRouter

router = APIRouter(tags=["criteria_sets"])
