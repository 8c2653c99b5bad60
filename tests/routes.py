"""The app's routes with their full paths (FastAPI keeps included routers nested, so
`app.routes` alone holds only the top-level ones)."""

from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts


@dataclass(frozen=True)
class RouteInfo:
    """One route as a client sees it."""

    name: str
    path: str
    methods: frozenset[str]
    include_in_schema: bool
    route: Any


def routes_of(app: FastAPI) -> list[RouteInfo]:
    """Every route, nested routers included, with the path a client calls."""
    found = [
        RouteInfo(
            name=str(getattr(context.original_route, "name", "")),
            path=context.path_format,
            methods=frozenset(getattr(context.original_route, "methods", None) or ()),
            include_in_schema=bool(getattr(context.original_route, "include_in_schema", False)),
            route=context.original_route,
        )
        for context in iter_route_contexts(app.routes)
    ]
    assert found, "the app has no routes: the walk is broken"
    return found
