"""Hostile input to every write route (SPEC §9): NUL, lone surrogates, 10k-character text
of RTL and combining marks, numbers beyond what the database stores, NaN-ish strings.
Each must get a 4xx problem+json (never a 5xx) and store nothing."""

import base64
import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from tests.api.conftest import V, ha_nam_values, put_values, reference_document
from tests.routes import routes_of

pytestmark = pytest.mark.usefixtures("tree", "reference")
PROBLEM = "application/problem+json"
DONG = "37-13402-DONG"
URL = f"{V}/villages/{DONG}/submissions/2026Q1"
STORED = ("unit", "user_account", "api_key", "criteria_set_version", "submission",
          "submission_revision", "score", "audit_event", "login_failure")  # fmt: skip
HOSTILE = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Text that cannot be stored, carried by ordinary, right-to-left and combining text.
CARRIER = st.text(
    st.sampled_from("aZ9 .-đĐươ\u05d0\u05d1\u0627\u0644\u202e\u200f\u0301\u0323\u0958\U0001f600"),
    max_size=30,
)
POISON = st.sampled_from(["\x00", "\ud800", "\udfff", "\ud83d", "\ude00"])


@st.composite
def _poisoned(draw: st.DrawFn) -> str:
    carrier, poison = draw(CARRIER), draw(POISON)
    cut = draw(st.integers(0, len(carrier)))
    return carrier[:cut] + poison + carrier[cut:]


LONG = st.builds(lambda c, n: (c * (10_000 // max(len(c), 1) + 1))[:n], CARRIER.filter(str.strip),
                 st.integers(10_000, 12_000))  # fmt: skip
BAD_TEXT = st.one_of(_poisoned(), LONG)
BAD_NUMBER = st.one_of(
    st.sampled_from([2**53 + 1, 2**63, -(2**63) - 1, 2**64, 10**10, 1e308, -1e308, 2**31,
                     float("nan"), float("inf"), 10**9 + 0.5,
                     "NaN", "Infinity", "-Infinity", "1e999", "9" * 400]),
    st.integers(min_value=2**31),  # beyond every bound: values ±10^9, versions 2^31 - 1
    st.integers(max_value=-(2**31)),
)  # fmt: skip


def counts(db: Engine) -> dict[str, int]:
    with db.connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in STORED}


def send(client: TestClient, method: str, url: str, body: Any, **kw: Any) -> Any:
    """JSON with ASCII escapes (a lone surrogate travels as `\\ud800`; NaN as `NaN`)."""
    headers = {"content-type": "application/json"} | kw.pop("headers", {})
    return client.request(method, url, content=json.dumps(body), headers=headers, **kw)


def assert_refused(db: Engine, before: dict[str, int], response: Any) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    assert response.headers["content-type"] == PROBLEM
    assert counts(db) == before


def placed(base: Any, path: tuple[str | int, ...], value: Any) -> Any:
    """A deep copy of `base` with `value` at `path`."""
    document = copy.deepcopy(base)
    target = document
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return document


def _mutations(base: Any, texts: list[tuple[Any, ...]], numbers: list[tuple[Any, ...]]) -> Any:
    """A body with one hostile text or number put in one of its fields (a number where
    text belongs, when the body has no number fields)."""
    numeric = BAD_NUMBER if numbers else BAD_NUMBER.filter(lambda v: not isinstance(v, str))
    return st.one_of(
        st.builds(lambda p, v: placed(base, p, v), st.sampled_from(texts), BAD_TEXT),
        st.builds(lambda p, v: placed(base, p, v), st.sampled_from(numbers or texts), numeric),
    )


SUBMISSION = {"values": ha_nam_values(), "note": "ok", "evidence": ["https://a.vn/1"]}
SUBMISSION_NUMBERS: list[tuple[Any, ...]] = [
    ("values", "households_total"), ("values", "households_with_fibre"),
    ("values", "team_members"),
]  # fmt: skip
SUBMISSION_BODIES = st.one_of(
    _mutations(SUBMISSION, [("note",), ("evidence", 0)], SUBMISSION_NUMBERS),
    st.builds(lambda k: placed(SUBMISSION, ("values", k), 1), BAD_TEXT),
)
NEW_UNIT = {"level": "village", "code": "37-13402-NEW", "name": "Thôn Mới",
            "parent_code": "13402", "lat": 20.1, "lon": 105.9}  # fmt: skip
UNIT_TEXTS: list[tuple[Any, ...]] = [("code",), ("name",), ("parent_code",)]
UNIT_NUMBERS: list[tuple[Any, ...]] = [("lat",), ("lon",)]
NEW_USER = {"username": "new-user", "password": "long enough password",
            "role": "village_head", "unit_code": DONG}  # fmt: skip
NEW_KEY = {"name": "dashboard", "unit_code": "37"}
DOCUMENT = reference_document() | {"version": 2}
DOCUMENT_TEXTS: list[tuple[Any, ...]] = [
    ("code",), ("title", "vi"), ("title", "en"), ("issued_by",), ("legal_basis",), ("notes",),
    ("effective_from",), ("measures", 0, "name", "vi"), ("measures", 1, "unit"),
    ("measures", 2, "code"), ("criteria", 0, "name", "en"),
    ("criteria", 0, "indicators", 0, "name", "vi"), ("criteria", 0, "indicators", 0, "notes"),
]  # fmt: skip
DOCUMENT_NUMBERS: list[tuple[Any, ...]] = [
    ("version",), ("measures", 0, "max"), ("measures", 0, "min"),
    ("criteria", 0, "indicators", 0, "weight"), ("criteria", 0, "indicators", 0, "target", "value"),
]  # fmt: skip


@HOSTILE
@given(body=SUBMISSION_BODIES)
def test_put_submission(client: TestClient, db: Engine, body: Any) -> None:
    before = counts(db)
    assert_refused(db, before, send(client, "PUT", URL, body))


@HOSTILE
@given(body=_mutations(NEW_UNIT, UNIT_TEXTS, UNIT_NUMBERS))
def test_post_unit(client: TestClient, db: Engine, body: Any) -> None:
    before = counts(db)
    assert_refused(db, before, send(client, "POST", f"{V}/units", body))


@HOSTILE
@given(body=_mutations({"name": "Thôn Đông", "lat": 20.0, "lon": 105.0},
                       [("name",), ("parent_code",)], UNIT_NUMBERS))  # fmt: skip
def test_patch_unit(client: TestClient, db: Engine, body: Any) -> None:
    before = counts(db)
    assert_refused(db, before, send(client, "PATCH", f"{V}/units/{DONG}", body))
    assert client.get(f"{V}/units/{DONG}").json()["name"] == "Thôn Đông"


@HOSTILE
@given(body=_mutations(NEW_USER, [("username",), ("password",), ("unit_code",), ("role",)], []))
def test_post_user(client: TestClient, db: Engine, body: Any) -> None:
    before = counts(db)
    assert_refused(db, before, send(client, "POST", f"{V}/users", body))


@HOSTILE
@given(body=_mutations(NEW_KEY, [("name",), ("unit_code",)], []))
def test_post_api_key(client: TestClient, db: Engine, body: Any) -> None:
    before = counts(db)
    assert_refused(db, before, send(client, "POST", f"{V}/api-keys", body))


@HOSTILE
@given(body=_mutations(DOCUMENT, DOCUMENT_TEXTS, DOCUMENT_NUMBERS))
def test_post_criteria_set(client: TestClient, db: Engine, body: Any) -> None:
    before = counts(db)
    assert_refused(db, before, send(client, "POST", f"{V}/criteria-sets", body))


@pytest.fixture
def submitted(client: TestClient, tree: Any, reference: Any) -> None:
    assert put_values(client, DONG, "2026Q1", ha_nam_values()).status_code == 201


@HOSTILE
@given(step=st.sampled_from(["approve", "return", "reopen"]), comment=BAD_TEXT)
@pytest.mark.usefixtures("submitted")
def test_review_comment(client: TestClient, db: Engine, step: str, comment: str) -> None:
    before = counts(db)
    assert_refused(db, before, send(client, "POST", f"{URL}/{step}", {"comment": comment}))
    assert client.get(URL).json()["status"] == "submitted"


FORM_TEXT = st.one_of(
    _poisoned().filter(lambda s: "\x00" in s),  # a form carries bytes: no lone surrogates
    LONG,
)


@HOSTILE
@given(field=st.sampled_from(["username", "password"]), value=FORM_TEXT)
def test_sign_in(app: Any, db: Engine, field: str, value: str) -> None:
    form = {"username": "root", "password": "long enough password"} | {field: value}
    encoded = "&".join(
        f"{k}={''.join(f'%{b:02X}' for b in v.encode('utf-8', 'surrogatepass'))}"
        for k, v in form.items()
    )
    before = counts(db)
    with TestClient(app) as anonymous:
        response = anonymous.post(
            f"{V}/auth/token",
            content=encoded,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    assert_refused(db, before, response)
    assert response.status_code == 422


JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | _poisoned() | CARRIER
    | st.builds(lambda c: c * 300, st.sampled_from("aĐ"))
    | st.sampled_from(["2026-01-01T00:00:00+07:00", "0001-01-01T00:00:00+05:00", "1e9", "NaN"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(CARRIER, inner, max_size=3),
    max_leaves=5,
)  # fmt: skip
LISTS = {
    f"{V}/units": ("code",),
    f"{V}/criteria-sets": ("code",),
    f"{V}/audit": ("id",),
    f"{V}/api-keys": ("id",),
    f"{V}/users": ("username",),
    f"{V}/submissions": ("at", "id"),
    f"{URL}/revisions": ("revision",),
    f"{V}/units/37/scores": ("score", "village_code", "rank", "period"),
    f"{V}/villages/{DONG}/scores": ("period",),
}


@HOSTILE
@given(url=st.sampled_from(sorted(LISTS)), data=st.data())
@pytest.mark.usefixtures("submitted")
def test_forged_cursors(client: TestClient, url: str, data: st.DataObject) -> None:
    """Right keys, any JSON values: the page or a 400, never a 5xx."""
    key = {name: data.draw(JSON_VALUE, label=name) for name in LISTS[url]}
    raw = json.dumps(key).encode()
    cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    response = client.get(url, params={"cursor": cursor})
    assert response.status_code in (200, 400, 422), (response.status_code, response.text[:300])
    if response.status_code != 200:
        assert response.headers["content-type"] == PROBLEM


def test_every_write_route_is_covered(app: Any) -> None:
    """A new write route must join this file (imports are tested with their own cells)."""
    covered = {
        ("PUT", "/api/v1/villages/{village_code}/submissions/{period}"),
        ("POST", "/api/v1/units"),
        ("PATCH", "/api/v1/units/{code}"),
        ("POST", "/api/v1/users"),
        ("POST", "/api/v1/api-keys"),
        ("POST", "/api/v1/criteria-sets"),
        ("POST", "/api/v1/auth/token"),
        *{("POST", f"/api/v1/villages/{{village_code}}/submissions/{{period}}/{step}")
          for step in ("approve", "return", "reopen")},
    }  # fmt: skip
    bodyless: Callable[[str], bool] = lambda path: path.endswith(("/publish", "/retire"))  # noqa: E731
    writes = {
        (method, route.path)
        for route in routes_of(app)
        for method in route.methods
        if method in {"PUT", "POST", "PATCH"}
        and route.path.startswith("/api/v1")
        and not route.path.endswith("/import")
        and not bodyless(route.path)
    }
    assert ("PUT", "/api/v1/villages/{village_code}/submissions/{period}") in writes
    assert writes <= covered, sorted(writes - covered)
