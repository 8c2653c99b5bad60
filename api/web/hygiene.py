"""Text no database can store, refused at the boundary before any route sees it (SPEC §9).

A NUL character (PostgreSQL refuses it) or an unpaired surrogate (no UTF-8 encoder takes
it; a phone that cuts a note inside an emoji sends one as the JSON escape `\\ud800`)
anywhere in a request's path parameters, query, JSON body (keys and values, at any depth)
or form body is a 422 naming each field, so nothing is stored and nothing answers 500; a
JSON body that is not UTF-8 at all is a 422 naming `body`. The one rule is
`criteria.text.text_problem`. Bulk imports (`…/import`) stream and check their own cells
with the same rule, so their bodies (CSV, JSON or multipart) are not read here.
"""

import json
from collections.abc import Iterator
from typing import Any

from fastapi import Request

from api.core.problems import FieldError, Unprocessable
from criteria.text import text_problem

__all__ = ["check_body", "check_params", "problems_in"]

MAX_REPORTED = 10
_MESSAGES = {
    "nul_character": "contains a NUL character, which cannot be stored",
    "unpaired_surrogate": "contains an unpaired UTF-16 surrogate (a cut emoji?), "
    "which cannot be stored",
}


def _printable(text: str) -> str:
    """`text` with the characters that cannot be sent back written as `\\uXXXX`."""
    return "".join(ch if text_problem(ch) is None else f"\\u{ord(ch):04x}" for ch in text)


def _field(path: tuple[str | int, ...]) -> str:
    return ".".join(_printable(str(part)) for part in path) or "body"


def problems_in(document: Any, root: tuple[str | int, ...] = ()) -> Iterator[FieldError]:
    """Every bad string of a parsed JSON document (dict keys too), in document order, with
    its dotted path (`note`, `evidence.0`); iterative, so nesting depth cannot overflow."""
    stack: list[tuple[tuple[str | int, ...], Any]] = [(root, document)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            code = text_problem(value)
            if code is not None:
                yield FieldError(_field(path), code, _MESSAGES[code])
        elif isinstance(value, dict):
            children: list[tuple[tuple[str | int, ...], Any]] = []
            for key, child in value.items():
                children.extend([((*path, key), key), ((*path, key), child)])
            stack.extend(reversed(children))
        elif isinstance(value, list):
            stack.extend(reversed([((*path, i), child) for i, child in enumerate(value)]))


def _pairs_problems(pairs: Iterator[tuple[str, str]] | list[tuple[str, str]]) -> list[FieldError]:
    errors: list[FieldError] = []
    for name, value in pairs:
        errors.extend(problems_in(name, (name,)))
        errors.extend(problems_in(value, (name,)))
    return errors


BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


async def _body_problems(request: Request) -> list[FieldError]:
    route = request.scope.get("route")
    if request.method not in BODY_METHODS or getattr(route, "path", "").endswith("/import"):
        return []  # reads never wait for a body (nor fail when their client goes away)
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.form()  # parsed once: Starlette keeps it for the route
        return _pairs_problems([(k, v) for k, v in form.multi_items() if isinstance(v, str)])
    if media and media != "application/json" and not media.endswith("+json"):
        return []  # FastAPI reads a body without a content type as JSON, so this does too
    try:
        text = (await request.body()).decode("utf-8")
    except UnicodeDecodeError as exc:
        detail = f"the body is not UTF-8 (byte {exc.start})"
        return [FieldError("body", "invalid_utf8", detail)]
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):  # not JSON: FastAPI's own 422 says so
        return []
    return list(problems_in(document))


def _refuse(errors: list[FieldError]) -> None:
    if errors:
        shown = errors[:MAX_REPORTED]
        names = ", ".join(dict.fromkeys(e.field for e in shown))
        raise Unprocessable(f"Some text cannot be stored: {names}.", errors=shown)


def check_params(request: Request) -> None:
    """422 naming every path or query parameter (up to ten) whose text cannot be stored.

    Runs before the policy, which looks up the unit a path or `?unit=` names: the answer
    depends only on the request's own characters, so it tells nothing to anyone."""
    errors = _pairs_problems(list(request.path_params.items()))
    _refuse(errors + _pairs_problems(request.query_params.multi_items()))


async def check_body(request: Request) -> None:
    """422 naming every field of a JSON or form body (up to ten) whose text cannot be
    stored; runs after the policy, so a bad body never answers in place of a 401 or 403."""
    _refuse(await _body_problems(request))
