"""Placeholder router: scores."""

from fastapi import APIRouter

router = APIRouter(tags=["scores"])
