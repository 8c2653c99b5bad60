"""Placeholder router: units."""

from fastapi import APIRouter

router = APIRouter(tags=["units"])
