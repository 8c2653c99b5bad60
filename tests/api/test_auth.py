"""Sign-in, tokens, throttling, public routes and account management, over HTTP."""

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.core import security
from tests.accounts import TEST_PASSWORD, TEST_SECRET, bearer, make_user
from tests.api.conftest import V

pytestmark = pytest.mark.usefixtures("tree")
PROBLEM = "application/problem+json"
DONG = "37-13402-DONG"
NO_AUTH = {"Authorization": ""}


def _sign_in(client: TestClient, username: str, password: str) -> Any:
    return client.post(
        f"{V}/auth/token", data={"username": username, "password": password}, headers=NO_AUTH
    )


def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _claims(username: str = "root", **changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": username,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=5)).timestamp()),
        "typ": "access",
    }
    return claims | changes


def _assert_401(response: Any) -> None:
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["www-authenticate"].lower().startswith("bearer")


def test_issue_token_right_password_returns_bearer_token(client: TestClient, db: Engine) -> None:
    make_user(db, "head-dong", "village_head", DONG)
    response = _sign_in(client, "head-dong", TEST_PASSWORD)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert isinstance(body["expires_in"], int)
    assert body["expires_in"] > 0
    me = client.get(f"{V}/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200
    assert me.json() == {"username": "head-dong", "role": "village_head", "unit_code": DONG}


def test_issue_token_username_in_other_case_returns_200(client: TestClient, db: Engine) -> None:
    make_user(db, "head-dong", "village_head", DONG)
    response = _sign_in(client, "Head-Dong", TEST_PASSWORD)
    assert response.status_code == 200
    me = client.get(f"{V}/me", headers=bearer(response.json()["access_token"]))
    assert me.json()["username"] == "head-dong"


def test_get_me_as_admin_returns_admin_without_unit(client: TestClient) -> None:
    assert client.get(f"{V}/me").json() == {"username": "root", "role": "admin", "unit_code": None}


def test_issue_token_wrong_password_returns_401(client: TestClient) -> None:
    response = _sign_in(client, "root", "not the password")
    _assert_401(response)
    assert "access_token" not in response.json()


def test_issue_token_unknown_user_returns_same_401_as_wrong_password(client: TestClient) -> None:
    wrong_password = _sign_in(client, "root", "not the password")
    unknown_user = _sign_in(client, "nobody", TEST_PASSWORD)
    _assert_401(unknown_user)
    assert unknown_user.json() == wrong_password.json()
    assert unknown_user.headers["www-authenticate"] == wrong_password.headers["www-authenticate"]


def test_issue_token_missing_password_returns_422_naming_password(client: TestClient) -> None:
    response = client.post(f"{V}/auth/token", data={"username": "root"}, headers=NO_AUTH)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert "password" in [e["field"] for e in response.json()["errors"]]


def test_issue_token_after_five_failures_returns_429_even_with_right_password(
    client: TestClient,
) -> None:
    for _ in range(5):
        assert _sign_in(client, "root", "not the password").status_code == 401
    response = _sign_in(client, "root", TEST_PASSWORD)
    assert response.status_code == 429
    assert response.headers["content-type"] == PROBLEM
    retry_after = response.headers["retry-after"]
    assert retry_after.isdigit()
    assert 1 <= int(retry_after) <= 15 * 60
    assert "access_token" not in response.json()


def test_issue_token_after_four_failures_returns_200(client: TestClient) -> None:
    for _ in range(4):
        assert _sign_in(client, "root", "not the password").status_code == 401
    assert _sign_in(client, "root", TEST_PASSWORD).status_code == 200


def test_issue_token_failures_in_other_case_count_for_same_username(client: TestClient) -> None:
    for name in ("ROOT", "Root", "root", "rOOt", "ROOT"):
        assert _sign_in(client, name, "not the password").status_code == 401
    assert _sign_in(client, "root", TEST_PASSWORD).status_code == 429


def test_issue_token_other_username_is_not_throttled(client: TestClient, db: Engine) -> None:
    make_user(db, "head-dong", "village_head", DONG)
    for _ in range(5):
        _sign_in(client, "root", "not the password")
    assert _sign_in(client, "root", TEST_PASSWORD).status_code == 429
    assert _sign_in(client, "head-dong", TEST_PASSWORD).status_code == 200


def test_issue_token_success_clears_failures(client: TestClient) -> None:
    for _ in range(4):
        _sign_in(client, "root", "not the password")
    assert _sign_in(client, "root", TEST_PASSWORD).status_code == 200
    for _ in range(4):
        assert _sign_in(client, "root", "not the password").status_code == 401
    assert _sign_in(client, "root", TEST_PASSWORD).status_code == 200


def test_throttled_user_keeps_using_existing_token(client: TestClient) -> None:
    for _ in range(6):
        _sign_in(client, "root", "not the password")
    assert client.get(f"{V}/me").status_code == 200


def test_get_units_with_expired_token_returns_401(client: TestClient) -> None:
    token, _ = security.create_token(secret=TEST_SECRET, username="root", minutes=-1)
    _assert_401(client.get(f"{V}/units", headers=bearer(token)))


def test_get_units_with_tampered_token_returns_401(client: TestClient) -> None:
    token, _ = security.create_token(secret=TEST_SECRET, username="root", minutes=5)
    header, _, signature = token.rpartition(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    _assert_401(client.get(f"{V}/units", headers=bearer(f"{header}.{flipped}")))


def test_get_units_with_tampered_claims_returns_401(client: TestClient, db: Engine) -> None:
    make_user(db, "head-dong", "village_head", DONG)
    token, _ = security.create_token(secret=TEST_SECRET, username="head-dong", minutes=5)
    head, _, signature = token.split(".")
    forged = f"{head}.{_b64(_claims('root'))}.{signature}"
    _assert_401(client.get(f"{V}/units", headers=bearer(forged)))


def test_get_units_with_token_signed_by_other_secret_returns_401(client: TestClient) -> None:
    token, _ = security.create_token(
        secret="another-secret-" + "y" * 40, username="root", minutes=5
    )
    _assert_401(client.get(f"{V}/units", headers=bearer(token)))


def test_get_units_with_alg_none_token_returns_401(client: TestClient) -> None:
    token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims())}."
    _assert_401(client.get(f"{V}/units", headers=bearer(token)))


def test_get_units_with_hs384_token_returns_401(client: TestClient) -> None:
    token = jwt.encode(_claims(), TEST_SECRET, algorithm="HS384")
    _assert_401(client.get(f"{V}/units", headers=bearer(token)))


def test_get_units_with_token_without_expiry_returns_401(client: TestClient) -> None:
    claims = _claims()
    del claims["exp"]
    token = jwt.encode(claims, TEST_SECRET, algorithm="HS256")
    _assert_401(client.get(f"{V}/units", headers=bearer(token)))


def test_get_units_with_token_of_unknown_user_returns_401(client: TestClient) -> None:
    token, _ = security.create_token(secret=TEST_SECRET, username="ghost", minutes=5)
    _assert_401(client.get(f"{V}/units", headers=bearer(token)))


def test_get_units_with_garbage_token_returns_401(client: TestClient) -> None:
    _assert_401(client.get(f"{V}/units", headers=bearer("not-a-jwt")))


def test_get_units_with_basic_auth_returns_401(client: TestClient) -> None:
    _assert_401(client.get(f"{V}/units", headers={"Authorization": "Basic cm9vdDpwdw=="}))


def test_get_units_without_credentials_returns_401(client: TestClient) -> None:
    response = client.get(f"{V}/units", headers=NO_AUTH)
    _assert_401(response)
    assert response.json()["status"] == 401


@pytest.mark.parametrize(
    "url", ["/healthz", "/readyz", f"{V}/openapi.json", "/docs"], ids=lambda u: u.strip("/")
)
def test_public_route_without_credentials_returns_200(client: TestClient, url: str) -> None:
    assert client.get(url, headers=NO_AUTH).status_code == 200


def test_list_users_never_returns_password_hash(client: TestClient, db: Engine) -> None:
    make_user(db, "head-dong", "village_head", DONG)
    created = client.post(
        f"{V}/users",
        json={"username": "rev-37", "password": "a long password", "role": "reviewer",
              "unit_code": "37"},
    )  # fmt: skip
    assert created.status_code == 201
    response = client.get(f"{V}/users")
    assert response.status_code == 200
    assert {u["username"] for u in response.json()["items"]} == {"root", "head-dong", "rev-37"}
    for user in response.json()["items"]:
        assert not any("password" in field or "hash" in field for field in user)
    assert "$argon2" not in response.text
    assert "$argon2" not in created.text
    assert "password" not in created.json()


def test_create_user_returns_201_and_user_can_sign_in(client: TestClient) -> None:
    response = client.post(
        f"{V}/users",
        json={"username": "Rev-37", "password": "a long password", "role": "reviewer",
              "unit_code": "37"},
    )  # fmt: skip
    assert response.status_code == 201
    assert response.json()["username"] == "rev-37"
    assert response.json()["role"] == "reviewer"
    assert response.json()["unit_code"] == "37"
    token = _sign_in(client, "rev-37", "a long password")
    assert token.status_code == 200
    me = client.get(f"{V}/me", headers=bearer(token.json()["access_token"])).json()
    assert me == {"username": "rev-37", "role": "reviewer", "unit_code": "37"}


@pytest.mark.parametrize(
    ("role", "unit_code"),
    [
        ("reviewer", None),
        ("reviewer", DONG),
        ("reviewer", "99"),
        ("village_head", None),
        ("village_head", "13402"),
        ("village_head", "37"),
        ("admin", "37"),
    ],
    ids=[
        "reviewer-without-unit",
        "reviewer-of-village",
        "reviewer-of-unknown-unit",
        "head-without-unit",
        "head-of-commune",
        "head-of-province",
        "admin-with-unit",
    ],
)
def test_create_user_with_wrong_unit_for_role_returns_422_naming_unit_code(
    client: TestClient, role: str, unit_code: str | None
) -> None:
    response = client.post(
        f"{V}/users",
        json={"username": "someone", "password": "a long password", "role": role,
              "unit_code": unit_code},
    )  # fmt: skip
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert [e["field"] for e in response.json()["errors"]] == ["unit_code"]
    assert {u["username"] for u in client.get(f"{V}/users").json()["items"]} == {"root"}


@pytest.mark.parametrize(
    ("role", "unit_code"),
    [("reviewer", "37"), ("reviewer", "13393"), ("village_head", DONG), ("admin", None)],
    ids=["reviewer-of-province", "reviewer-of-commune", "head-of-village", "admin"],
)
def test_create_user_with_right_unit_for_role_returns_201(
    client: TestClient, role: str, unit_code: str | None
) -> None:
    response = client.post(
        f"{V}/users",
        json={"username": "someone", "password": "a long password", "role": role,
              "unit_code": unit_code},
    )  # fmt: skip
    assert response.status_code == 201


def test_create_user_with_short_password_returns_422_naming_password(client: TestClient) -> None:
    response = client.post(
        f"{V}/users", json={"username": "someone", "password": "short", "role": "admin"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert [e["field"] for e in response.json()["errors"]] == ["password"]


def test_create_user_with_unknown_role_returns_422_naming_role(client: TestClient) -> None:
    response = client.post(
        f"{V}/users",
        json={"username": "someone", "password": "a long password", "role": "integrator"},
    )
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["role"]


@pytest.mark.parametrize(
    "username", ["has space", "semi;colon", "ab"], ids=["space", "semicolon", "too-short"]
)
def test_create_user_with_bad_username_returns_422_naming_username(
    client: TestClient, username: str
) -> None:
    response = client.post(
        f"{V}/users",
        json={"username": username, "password": "a long password", "role": "admin"},
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert [e["field"] for e in response.json()["errors"]] == ["username"]


@pytest.mark.parametrize("username", ["root", "ROOT"], ids=["same-case", "other-case"])
def test_create_user_with_taken_username_returns_409(client: TestClient, username: str) -> None:
    response = client.post(
        f"{V}/users",
        json={"username": username, "password": "a long password", "role": "admin"},
    )
    assert response.status_code == 409
    assert response.headers["content-type"] == PROBLEM
    assert len(client.get(f"{V}/users").json()["items"]) == 1


def test_create_user_as_reviewer_returns_403(client: TestClient, db: Engine) -> None:
    reviewer = bearer(make_user(db, "rev-37", "reviewer", "37"))
    response = client.post(
        f"{V}/users",
        json={"username": "someone", "password": "a long password", "role": "admin"},
        headers=reviewer,
    )
    assert response.status_code == 403
    assert response.headers["content-type"] == PROBLEM


def test_get_me_with_api_key_returns_integrator(client: TestClient) -> None:
    created = client.post(f"{V}/api-keys", json={"name": "dashboard", "unit_code": "37"}).json()
    response = client.get(f"{V}/me", headers=NO_AUTH | {"X-API-Key": created["key"]})
    assert response.status_code == 200
    body = response.json()
    assert body["role"] == "integrator"
    assert body["unit_code"] == "37"


def test_get_me_without_credentials_returns_401(client: TestClient) -> None:
    _assert_401(client.get(f"{V}/me", headers=NO_AUTH))


@pytest.mark.parametrize(
    ("method", "url"),
    [("PUT", f"{V}/villages/{DONG}/submissions/2026Q1"), ("POST", f"{V}/users")],
    ids=["put-submission", "create-user"],
)
def test_malformed_json_without_credentials_returns_401(
    client: TestClient, method: str, url: str
) -> None:
    # Credentials are checked before the body is read: an anonymous caller learns nothing
    # about a route's body from its validation errors.
    response = client.request(
        method,
        url,
        content=b"{not json",
        headers=NO_AUTH | {"Content-Type": "application/json"},
    )
    _assert_401(response)


def test_malformed_json_as_wrong_role_returns_403(client: TestClient, db: Engine) -> None:
    head = bearer(make_user(db, "head-dong", "village_head", DONG))
    response = client.post(
        f"{V}/users", content=b"{not json", headers=head | {"Content-Type": "application/json"}
    )
    assert response.status_code == 403
    assert response.headers["content-type"] == PROBLEM
