"""The two reads every dashboard polls, answered without FastAPI's dependency solver.

`GET /api/v1/villages/{village_code}/score` and `GET /api/v1/units/{code}/scores` are most
of the traffic, and solving their dependencies cost more than the rest of the request
together. This innermost middleware answers them itself when the request is an ordinary
one, through the same pieces the routes use: the text hygiene check, the one policy
(`identify` and `enforce`, with the worker's memory), and the services that send the
stored answer. Anything else (a parameter FastAPI would refuse, a refused credential, a
unit or score that does not exist, a database fault) falls through to the FastAPI route,
which answers exactly as it always has: the fast path only ever serves a 200 that the
route would have served byte for byte (tests/api/test_hot_reads.py compares the two).
"""

import logging
import re
from dataclasses import dataclass
from typing import Any

from fastapi.routing import iter_route_contexts
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from api.core.caller import Caller
from api.core.pagination import DEFAULT_LIMIT, MAX_CURSOR_LENGTH, MAX_LIMIT
from api.services import ranking_page
from api.services import score_reads as scores
from api.web.deps import close_if_used, optional_period, reads_of, scope_unit_of
from api.web.hygiene import check_params
from api.web.policy import Access, Memory, admit_caller, admit_unit, enforce, identify, rule_for
from criteria.periods import Period

log = logging.getLogger("smartvillage")
HOT_ROUTES = frozenset({"get_village_score", "list_unit_rankings"})
STATUSES = frozenset({"met", "not_met", "incomplete"})
SORTS = frozenset({"-score", "score", "village_code"})


class FallThrough(Exception):
    """The FastAPI route answers this request (it is not an ordinary, successful read)."""


@dataclass(frozen=True)
class HotRoute:
    name: str
    pattern: re.Pattern[str]
    route: Any


def hot_routes(app: Any) -> list[HotRoute]:
    """The hot routes of `app`, each with a pattern for its full path (built once)."""
    cached: list[HotRoute] | None = getattr(app.state, "hot_routes", None)
    if cached is None:
        cached = []
        for context in iter_route_contexts(app.routes):
            name = getattr(context.original_route, "name", "")
            methods = getattr(context.original_route, "methods", None) or ()
            if name in HOT_ROUTES and "GET" in methods:
                regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", str(context.path_format))
                cached.append(HotRoute(name, re.compile(f"^{regex}$"), context.original_route))
        app.state.hot_routes = cached
    return cached


def _match(scope: Scope) -> tuple[HotRoute, dict[str, str]] | None:
    for hot in hot_routes(scope["app"]):
        found = hot.pattern.match(scope["path"])
        if found:
            return hot, found.groupdict()
    return None


def _text(request: Request, name: str, longest: int) -> str | None:
    value = request.query_params.get(name)
    if value is not None and len(value) > longest:
        raise FallThrough(name)
    return value


def _period(request: Request) -> Period | None:
    try:
        return optional_period(_text(request, "period", 6))
    except Exception as exc:  # FastAPI's route answers the 422
        raise FallThrough("period") from exc


def _limit(request: Request) -> int:
    text = request.query_params.get("limit")
    if text is None:
        return DEFAULT_LIMIT
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise FallThrough("limit")
    return int(text)


def _choice(request: Request, name: str, allowed: frozenset[str], default: str | None) -> Any:
    value = request.query_params.get(name, default)
    if value is not None and value not in allowed:
        raise FallThrough(name)
    return value


async def _ranking(request: Request, session: AsyncSession, access: Access) -> tuple[bytes, None]:
    assert access.caller is not None
    body = await ranking_page.ranking(
        reads_of(request),
        session,
        unit=scope_unit_of(access),
        period=_period(request),
        status=_choice(request, "status", STATUSES, None),
        sort=_choice(request, "sort", SORTS, "-score"),
        caller=access.caller,
        limit=_limit(request),
        cursor=_text(request, "cursor", MAX_CURSOR_LENGTH),
    )
    return body, None


def _credentials(request: Request) -> tuple[str | None, str | None]:
    """What FastAPI's security classes would pass the policy: the bearer token, the key."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return (token if scheme.lower() == "bearer" else None), request.headers.get("x-api-key")


async def _village_score(request: Request, caller: Caller) -> tuple[bytes, str | None]:
    """One read: the village by its code, where it sits, and its stored answer; the
    policy's role and scope rules applied to what it found."""
    admitted = admit_caller(rule_for(request), caller)
    code = request.path_params["village_code"]
    found = await scores.stored_answer(
        reads_of(request), code=code, period=_period(request), caller=admitted
    )
    if found is None or found.level != "village" or found.body is None:
        raise FallThrough("the route answers the 404, or renders an old score")
    admit_unit(admitted, found, code)
    return found.body, found.etag


async def _answer(request: Request, session: AsyncSession, name: str) -> tuple[bytes, str | None]:
    check_params(request)
    memory: Memory = request.app.state.memory
    secret = request.app.state.settings.secret_key.get_secret_value()
    token, key = _credentials(request)
    caller: Caller | None = await identify(
        session, token=token, key=key, secret=secret, memory=memory
    )
    if name == "get_village_score":
        return await _village_score(request, admit_caller(rule_for(request), caller))
    return await _ranking(request, session, await enforce(request, session, caller, memory))


class HotReadsMiddleware:
    """Answers an ordinary GET of a hot route; everything else goes to FastAPI."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        hot_get = scope["type"] == "http" and scope["method"] == "GET"
        matched = _match(scope) if hot_get and scope["app"].state.hot_reads else None
        if matched is None:
            await self.app(scope, receive, send)
            return
        hot, path_params = matched
        # In place, as FastAPI's router does: the access log reads the route from here.
        scope["route"], scope["path_params"] = hot.route, path_params
        answer = await self._try(scope, hot.name)
        if answer is None:
            await self.app(scope, receive, send)
            return
        body, etag = answer
        headers = [(b"content-length", str(len(body)).encode()),
                   (b"content-type", b"application/json")]  # fmt: skip
        if etag:
            headers.append((b"etag", etag.encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _try(self, scope: Scope, name: str) -> tuple[bytes, str | None] | None:
        maker: async_sessionmaker[AsyncSession] = scope["app"].state.sessionmaker
        session = maker()
        try:
            return await _answer(Request(scope), session, name)
        except Exception as exc:  # the route answers: a refusal, a 404, a fault, a 422
            log.debug("hot read falls through to its route: %r", exc)
            return None
        finally:
            await close_if_used(session)
