"""The one authorisation policy: a rule per route, applied by one dependency on every route
(`api.web.deps.get_access`, in the request's own session).

A route without an entry here answers 500 and fails the test suite
(tests/api/test_policy_matrix.py walks the app's own route table), so a new route cannot ship
without a decision.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.caller import ROLES, Caller, Placed, Role
from api.core.problems import Forbidden, ProblemError, Unauthorized
from api.core.security import read_token
from api.services import accounts, api_keys
from api.services import units as unit_service
from api.web.recent import Recent
from models.units import Unit

Scope = Literal["none", "path_unit", "path_village", "query_unit"]


@dataclass(frozen=True)
class Rule:
    """Who may call a route (`roles`; None: anyone, no credentials) and which unit must be
    in the caller's scope: the `{code}` or `{village_code}` in the path, or `?unit=`."""

    roles: frozenset[Role] | None
    scope: Scope = "none"


def _rule(*roles: Role, scope: Scope = "none") -> Rule:
    return Rule(frozenset(roles), scope)


EVERYONE = _rule(*ROLES)
ADMIN = _rule("admin")
PUBLIC = Rule(None)

POLICY: dict[str, Rule] = {
    # accounts and keys
    "issue_token": PUBLIC,
    "get_me": EVERYONE,
    "create_user": ADMIN,
    "list_users": ADMIN,
    "create_api_key": ADMIN,
    "list_api_keys": ADMIN,
    "revoke_api_key": ADMIN,
    # units and criteria sets: readable by every authenticated caller
    "list_units": EVERYONE,
    "get_unit": EVERYONE,
    "create_unit": ADMIN,
    "update_unit": ADMIN,
    "import_units": ADMIN,
    "list_criteria_sets": EVERYONE,
    "get_criteria_set_version": EVERYONE,
    "create_criteria_set_version": ADMIN,
    "publish_criteria_set_version": ADMIN,
    "retire_criteria_set_version": ADMIN,
    # submissions and their review
    "put_submission": _rule("admin", "village_head", scope="path_village"),
    "get_submission": _rule("admin", "reviewer", "village_head", scope="path_village"),
    "list_submission_revisions": _rule("admin", "reviewer", "village_head", scope="path_village"),
    "approve_submission": _rule("admin", "reviewer", scope="path_village"),
    "return_submission": _rule("admin", "reviewer", scope="path_village"),
    "reopen_submission": _rule("admin", "reviewer", scope="path_village"),
    "list_submissions": _rule("admin", "reviewer", scope="query_unit"),
    "import_submissions": _rule("admin", "reviewer"),
    # scores
    "get_village_score": _rule(*ROLES, scope="path_village"),
    "list_village_scores": _rule(*ROLES, scope="path_village"),
    "list_unit_rankings": _rule(*ROLES, scope="path_unit"),
    "get_unit_summary": _rule(*ROLES, scope="path_unit"),
    # audit
    "list_audit_events": _rule("admin", "reviewer", scope="query_unit"),
}


def is_public(route_name: str) -> bool:
    """True for a route anyone may call without credentials (OpenAPI lists no security)."""
    rule = POLICY.get(route_name)
    return rule is not None and rule.roles is None


class PolicyMissing(ProblemError):
    status, title, slug = 500, "Route without an authorisation policy", None


@dataclass(frozen=True)
class Access:
    """What the policy let through: the caller (None on a public route) and the unit whose
    scope it checked (the path's unit or village, or `?unit=`; None when there is none)."""

    caller: Caller | None
    unit: Unit | None = None


@dataclass
class Memory:
    """What this worker remembers for at most a second (`api.web.recent`): the caller an
    account or key stands for (a token's signature and expiry are checked every time), and
    units by code. None of it is used by, or survives, an unsafe request."""

    callers: Recent[tuple[str, str], Caller] = field(default_factory=Recent)
    units: Recent[str, Unit] = field(default_factory=Recent)

    def clear(self) -> None:
        """Forget everything: the request about to run may change it."""
        self.callers.clear()
        self.units.clear()


async def _remembered(
    memory: Memory | None, key: tuple[str, str], look_up: Callable[[], Awaitable[Caller | None]]
) -> Caller | None:
    """`look_up()`, or what it said less than a second ago (a refused credential is looked
    up again every time)."""
    return await look_up() if memory is None else await memory.callers.get_or_load(key, look_up)


async def identify(
    session: AsyncSession,
    *,
    token: str | None,
    key: str | None,
    secret: str,
    memory: Memory | None = None,
) -> Caller | None:
    """The caller a bearer token or else an `X-API-Key` stands for (None when neither is
    valid); a bearer token, once sent, is the only credential looked at."""
    if token and token.strip():
        username = read_token(token.strip(), secret=secret)
        if not username:
            return None
        return await _remembered(
            memory,
            ("account", username),
            lambda: accounts.caller_for(session, username=username),
        )
    if key and key.strip():
        presented = key.strip()
        return await _remembered(
            memory, ("key", presented), lambda: api_keys.caller_for_key(session, key=presented)
        )
    return None


def rule_for(request: Request) -> Rule:
    """The rule of the route that matched `request`, or a 500 naming the route."""
    name = getattr(request.scope.get("route"), "name", None)
    rule = POLICY.get(name or "")
    if rule is None:
        raise PolicyMissing(f"The route {name!r} has no authorisation policy.")
    return rule


async def _find(session: AsyncSession, code: str, memory: Memory | None) -> Unit | None:
    """The unit with this code; from memory on a safe request. What memory hands out is a
    transient copy no session has seen, shared by the safe requests of the next second:
    they only read it (building one costs more than the read it serves)."""
    if memory is None:
        return await unit_service.find_by_code(session, code=code)

    async def transient_copy() -> Unit | None:
        unit = await unit_service.find_by_code(session, code=code)
        return None if unit is None else Unit(**unit.model_dump())

    return await memory.units.get_or_load(code, transient_copy)


async def _scope_unit(
    request: Request, session: AsyncSession, scope: Scope, memory: Memory | None
) -> Unit | None:
    if scope == "path_unit":
        code = request.path_params["code"]
        return unit_service.as_unit(await _find(session, code, memory), code)
    if scope == "path_village":
        code = request.path_params["village_code"]
        return unit_service.as_village(await _find(session, code, memory), code)
    code = request.query_params.get("unit")
    return unit_service.as_unit(await _find(session, code, memory), code) if code else None


def admit_caller(rule: Rule, caller: Caller | None) -> Caller:
    """`caller` when `rule` lets its role in: 401 without valid credentials, 403 for a role
    the rule does not name."""
    if caller is None:
        raise Unauthorized(
            "Send a bearer token (POST /api/v1/auth/token) or an X-API-Key.",
            headers={"WWW-Authenticate": 'Bearer realm="smartvillage"'},
        )
    if rule.roles is not None and caller.role not in rule.roles:
        raise Forbidden(f"The {caller.role} role may not do this.")
    return caller


def admit_unit(caller: Caller, unit: Placed, code: str) -> None:
    """403 when `unit` (named `code`) lies outside the caller's scope."""
    if not caller.covers(unit):
        raise Forbidden(f"{code!r} is outside your scope ({caller.unit_code or 'none'}).")


async def enforce(
    request: Request, session: AsyncSession, caller: Caller | None, memory: Memory | None = None
) -> Access:
    """Apply the route's rule to `caller`: 401 without valid credentials, 403 outside role
    or scope; the scope's unit is loaded in `session` (or remembered), for the route."""
    rule = rule_for(request)
    if rule.roles is None:
        return Access(None)
    admitted = admit_caller(rule, caller)
    unit = await _scope_unit(request, session, rule.scope, memory) if rule.scope != "none" else None
    if unit is not None:
        admit_unit(admitted, unit, unit.code)
    return Access(admitted, unit)
