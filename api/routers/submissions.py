"""Placeholder router: submissions."""

from fastapi import APIRouter

router = APIRouter(tags=["submissions"])
