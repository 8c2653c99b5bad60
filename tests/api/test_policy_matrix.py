"""The authorisation matrix, built from the app's own route table.

Every operation in the OpenAPI document is called as every kind of caller, on units inside
and outside the caller's scope, and the answer is checked against `POLICY` and the scope
semantics of `Caller.covers`: anonymous → 401, wrong role → 403, out of scope → 403, allowed
→ anything but 401/403 (404/409/422 are fine: the point is authorisation). A handful of
hard-coded spot checks at the end do not rely on `POLICY` at all.
"""

import copy
from dataclasses import dataclass
from functools import cache
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from api.app import create_app
from api.core.caller import Caller
from api.infra.settings import Settings
from api.web.policy import POLICY, Rule
from models.units import Unit
from tests.accounts import TEST_SECRET, bearer, make_user
from tests.api.conftest import V, ha_nam_values, publish, put_values, reference_document
from tests.routes import routes_of

DONG, BAC, NINH_LAI, PAN = "37-13402-DONG", "37-13402-BAC", "37-13393-01", "15-04000-01"
PERIOD = "2026Q1"
UNPOLICED = {"get_healthz", "get_readyz"}  # root probes, outside /api/v1 and its policy
PROBLEM = "application/problem+json"
# Between them these tell every caller's scope apart: in and out of a province, a commune,
# a village (Thôn Đông vs Ninh Lai) and the other province.
VILLAGE_TARGETS = [DONG, NINH_LAI, PAN]
UNIT_TARGETS = ["37", "13393", DONG, "15"]


def _operations() -> list[tuple[str, str, str]]:
    """(METHOD, path, operationId) of every operation in the app's OpenAPI document."""
    app = create_app(Settings(database_url="sqlite://", secret_key=TEST_SECRET))
    return [
        (method.upper(), path, op["operationId"])
        for path, item in app.openapi()["paths"].items()
        for method, op in item.items()
    ]


OPERATIONS = _operations()
POLICED = [op for op in OPERATIONS if op[2] not in UNPOLICED]


@dataclass(frozen=True)
class Who:
    """One kind of caller in the matrix: how it authenticates and where its scope lies."""

    name: str
    role: str | None  # None: anonymous
    unit_code: str | None = None
    key: bool = False  # authenticates with an X-API-Key instead of a bearer token


WHO = [
    Who("admin", "admin"),
    Who("reviewer-37", "reviewer", "37"),
    Who("reviewer-13393", "reviewer", "13393"),
    Who("head-dong", "village_head", DONG),
    Who("integrator", "integrator", key=True),
    Who("integrator-15", "integrator", "15", key=True),
    Who("anonymous", None),
]


@dataclass(frozen=True)
class Place:
    """A unit's id and ancestry, as `Caller.covers` reads them."""

    id: int | None
    province_id: int | None
    commune_id: int | None
    code: str
    level: str


@dataclass
class World:
    """The data one matrix case runs against: the caller's credentials, units and a key."""

    headers: dict[str, str]
    caller: Caller | None
    units: dict[str, Place]
    spare_key_id: int


def _create_key(client: TestClient, name: str, unit_code: str | None = None) -> dict[str, Any]:
    response = client.post(f"{V}/api-keys", json={"name": name, "unit_code": unit_code})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


@cache
def _reference() -> dict[str, Any]:
    return reference_document()


def _build_world(client: TestClient, db: Engine, rule: Rule, who: Who) -> World:
    """Only what the case needs: one caller's credentials, and a scored submission in
    Thôn Đông when the operation names a village (publishing and scoring are slow)."""
    with db.connect() as conn:
        rows = conn.execute(
            select(Unit.id, Unit.province_id, Unit.commune_id, Unit.code, Unit.level)  # type: ignore[call-overload]
        ).all()
    units = {r.code: Place(r.id, r.province_id, r.commune_id, r.code, r.level) for r in rows}
    unit = units[who.unit_code] if who.unit_code else None
    caller = None
    if who.role is not None:
        caller = Caller(
            username=who.name,
            role=who.role,  # type: ignore[arg-type]
            unit_code=who.unit_code,
            unit_id=unit.id if unit else None,
            unit_level=unit.level if unit else None,
        )
    if who.role is None:
        headers = {"Authorization": ""}
    elif who.key:
        headers = {
            "Authorization": "",
            "X-API-Key": _create_key(client, who.name, who.unit_code)["key"],
        }
    elif who.role == "admin":
        headers = {}
    else:
        headers = bearer(make_user(db, who.name, who.role, who.unit_code))
    if rule.scope == "path_village":
        publish(client, copy.deepcopy(_reference()))
        assert put_values(client, DONG, PERIOD, ha_nam_values()).status_code == 201
    spare = _create_key(client, "spare")["id"]
    return World(headers=headers, caller=caller, units=units, spare_key_id=spare)


def _targets(rule: Rule, world: World) -> list[Place | None]:
    """The units to try an operation on: every unit its scope kind can name."""
    if rule.scope == "path_village":
        return [world.units[c] for c in VILLAGE_TARGETS]
    if rule.scope == "path_unit":
        return [world.units[c] for c in UNIT_TARGETS]
    if rule.scope == "query_unit":
        return [None, *(world.units[c] for c in UNIT_TARGETS)]
    return [None]


def _expected(rule: Rule, caller: Caller | None, target: Place | None) -> int | None:
    """401 or 403 when the policy must refuse; None when it must let the request through."""
    if rule.roles is None:
        return None
    if caller is None:
        return 401
    if caller.role not in rule.roles:
        return 403
    if rule.scope != "none" and target is not None and not caller.covers(target):
        return 403
    return None


def _body(operation_id: str) -> dict[str, Any]:
    """A minimal request body (as TestClient keyword arguments) for each operation."""
    bodies: dict[str, dict[str, Any]] = {
        # No password: a 422 that skips the (deliberately slow) hash check.
        "issue_token": {"data": {"username": "root"}},
        "create_user": {
            "json": {"username": "made-by-matrix", "password": "x" * 12, "role": "admin"}
        },
        "create_api_key": {"json": {"name": "made by matrix"}},
        "create_unit": {"json": {"code": "99", "name": "Tỉnh Thử", "level": "province"}},
        "update_unit": {"json": {"name": "Đổi tên"}},
        "import_units": {"json": []},
        "import_submissions": {"json": []},
        "create_criteria_set_version": {"json": {}},
        "put_submission": {"json": {"values": ha_nam_values()}},
        "approve_submission": {"json": {"comment": "ok"}},
        "return_submission": {"json": {"comment": "fix the fibre count"}},
        "reopen_submission": {"json": {"comment": "reopened"}},
    }
    return bodies.get(operation_id, {})


def _request(
    client: TestClient,
    method: str,
    path: str,
    operation_id: str,
    rule: Rule,
    target: Place | None,
    world: World,
    headers: dict[str, str],
) -> Any:
    village = target.code if target and rule.scope == "path_village" else DONG
    unit = target.code if target and rule.scope == "path_unit" else "13402"
    code = "ttm-reference" if path.startswith(f"{V}/criteria-sets/") else unit
    url = (
        path.replace("{village_code}", village)
        .replace("{code}", code)
        .replace("{period}", PERIOD)
        .replace("{version}", "1")
        .replace("{key_id}", str(world.spare_key_id))
    )
    params = {"unit": target.code} if target and rule.scope == "query_unit" else {}
    return client.request(method, url, params=params, headers=headers, **_body(operation_id))


def test_every_operation_has_a_policy_entry(app: Any) -> None:
    operation_ids = {
        op["operationId"] for item in app.openapi()["paths"].values() for op in item.values()
    }
    assert operation_ids - UNPOLICED - POLICY.keys() == set()


def test_every_policed_route_is_in_the_openapi_document(app: Any) -> None:
    # The matrix walks OpenAPI; a route hidden from it would escape the matrix.
    # Every /api/v1 route but the OpenAPI document itself, documented or not.
    routes = {r.name for r in routes_of(app) if r.path.startswith(V)} - {"openapi"}
    assert {"put_submission", "approve_submission", "list_unit_rankings"} <= routes
    documented = {op[2] for op in OPERATIONS}
    assert routes - documented == set()


@pytest.mark.parametrize(
    ("method", "path", "operation_id", "who"),
    [(m, p, o, w) for m, p, o in POLICED for w in WHO],
    ids=[f"{o}-{w.name}" for _, _, o in POLICED for w in WHO],
)
@pytest.mark.usefixtures("tree")
def test_operation_as_caller_follows_policy(
    client: TestClient, db: Engine, method: str, path: str, operation_id: str, who: Who
) -> None:
    assert operation_id in POLICY, f"{operation_id} has no authorisation policy"
    rule = POLICY[operation_id]
    world = _build_world(client, db, rule, who)
    caller = world.caller
    wrong: list[str] = []
    for target in _targets(rule, world):
        response = _request(client, method, path, operation_id, rule, target, world, world.headers)
        expected = _expected(rule, caller, target)
        where = f"{method} {response.request.url} as {who.name}"
        if expected is None:
            if response.status_code in (401, 403) or response.status_code >= 500:
                wrong.append(f"{where}: {response.status_code}, expected allowed")
        elif response.status_code != expected:
            wrong.append(f"{where}: {response.status_code}, expected {expected}")
        elif response.headers["content-type"] != PROBLEM:
            wrong.append(f"{where}: content type {response.headers['content-type']}")
        elif expected == 401 and "www-authenticate" not in response.headers:
            wrong.append(f"{where}: 401 without WWW-Authenticate")
    assert wrong == []


# Spot checks that do not consult POLICY.


@pytest.fixture
def head(db: Engine, tree: dict[str, int]) -> dict[str, str]:
    return bearer(make_user(db, "head-dong", "village_head", DONG))


@pytest.mark.usefixtures("reference")
@pytest.mark.parametrize(
    "url",
    [
        f"{V}/villages/{BAC}/submissions/{PERIOD}",
        f"{V}/villages/{BAC}/submissions/{PERIOD}/revisions",
        f"{V}/villages/{BAC}/score",
        f"{V}/villages/{BAC}/scores",
        f"{V}/villages/{PAN}/score",
        f"{V}/units/13402/scores",
        f"{V}/units/37/summary",
    ],
    ids=["submission", "revisions", "score", "trend", "other-province-score", "ranking", "summary"],
)
def test_get_other_village_as_village_head_returns_403(
    client: TestClient, head: dict[str, str], url: str
) -> None:
    assert put_values(client, BAC, PERIOD, ha_nam_values()).status_code == 201
    assert put_values(client, PAN, PERIOD, ha_nam_values()).status_code == 201
    response = client.get(url, headers=head)
    assert response.status_code == 403
    assert response.headers["content-type"] == PROBLEM


@pytest.mark.usefixtures("reference")
def test_get_own_village_as_village_head_returns_200(
    client: TestClient, head: dict[str, str]
) -> None:
    assert put_values(client, DONG, PERIOD, ha_nam_values(), headers=head).status_code == 201
    for url in (
        f"{V}/villages/{DONG}/submissions/{PERIOD}",
        f"{V}/villages/{DONG}/submissions/{PERIOD}/revisions",
        f"{V}/villages/{DONG}/score",
        f"{V}/villages/{DONG}/scores",
    ):
        assert client.get(url, headers=head).status_code == 200, url


@pytest.mark.usefixtures("reference")
def test_approve_other_province_as_province_reviewer_returns_403(
    client: TestClient, db: Engine, tree: dict[str, int]
) -> None:
    reviewer = bearer(make_user(db, "rev-37", "reviewer", "37"))
    assert put_values(client, PAN, PERIOD, ha_nam_values()).status_code == 201
    response = client.post(
        f"{V}/villages/{PAN}/submissions/{PERIOD}/approve", json={}, headers=reviewer
    )
    assert response.status_code == 403
    assert response.headers["content-type"] == PROBLEM
    assert client.get(f"{V}/villages/{PAN}/submissions/{PERIOD}").json()["status"] == "submitted"


@pytest.mark.usefixtures("reference")
def test_approve_other_commune_as_commune_reviewer_returns_403(
    client: TestClient, db: Engine, tree: dict[str, int]
) -> None:
    reviewer = bearer(make_user(db, "rev-13393", "reviewer", "13393"))
    assert put_values(client, DONG, PERIOD, ha_nam_values()).status_code == 201
    url = f"{V}/villages/{DONG}/submissions/{PERIOD}/approve"
    assert client.post(url, json={}, headers=reviewer).status_code == 403


@pytest.mark.usefixtures("reference")
def test_put_as_integrator_returns_403(client: TestClient, tree: dict[str, int]) -> None:
    key = _create_key(client, "integrator")["key"]
    response = put_values(
        client, DONG, PERIOD, ha_nam_values(), headers={"Authorization": "", "X-API-Key": key}
    )
    assert response.status_code == 403
    assert response.headers["content-type"] == PROBLEM
    assert client.get(f"{V}/villages/{DONG}/submissions/{PERIOD}").status_code == 404


def test_list_users_as_village_head_returns_403(client: TestClient, head: dict[str, str]) -> None:
    response = client.get(f"{V}/users", headers=head)
    assert response.status_code == 403
    assert response.headers["content-type"] == PROBLEM


@pytest.mark.usefixtures("reference")
def test_put_other_village_as_village_head_returns_403_and_stores_nothing(
    client: TestClient, head: dict[str, str]
) -> None:
    response = put_values(client, BAC, PERIOD, ha_nam_values(), headers=head)
    assert response.status_code == 403
    assert client.get(f"{V}/villages/{BAC}/submissions/{PERIOD}").status_code == 404


def test_get_unknown_village_as_reviewer_returns_404(
    client: TestClient, db: Engine, tree: dict[str, int]
) -> None:
    reviewer = bearer(make_user(db, "rev-37", "reviewer", "37"))
    response = client.get(f"{V}/villages/37-NOWHERE/scores", headers=reviewer)
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
