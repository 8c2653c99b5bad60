"""The token-signing secret (SPEC §9 "Secrets"): never shipped, demo's kept with the database."""

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from api.app import create_app
from api.core import security
from api.infra.db import engine_for, make_sessionmaker
from api.infra.migrate import upgrade
from api.infra.settings import Settings
from api.services.instance import MissingSecret, with_token_secret
from models.operations import InstanceSecret
from tests.accounts import TEST_PASSWORD, bearer, make_user

# The value the code shipped with until SPEC §9: anyone could read it and forge tokens.
OLD_SHIPPED_SECRET = "dev-insecure-secret-change-me"
USERS = "/api/v1/users"


@pytest.fixture(autouse=True)
def no_configured_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SMARTVILLAGE_SECRET_KEY", raising=False)


def demo(database_url: str) -> Settings:
    """Demo mode with nothing but the code's defaults for the secret."""
    return Settings(database_url=database_url, demo=True)


def sign_in(client: TestClient, username: str) -> str:
    response = client.post(
        "/api/v1/auth/token", data={"username": username, "password": TEST_PASSWORD}
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


@pytest.mark.filterwarnings(
    "ignore::jwt.warnings.InsecureKeyLengthWarning"
)  # the old secret is short
def test_token_signed_with_old_shipped_secret_returns_401_in_demo_mode(
    database_url: str, db: Engine
) -> None:
    make_user(db, "root", "admin")
    forged, _ = security.create_token(secret=OLD_SHIPPED_SECRET, username="root", minutes=5)
    with TestClient(create_app(demo(database_url))) as client:
        assert client.get(USERS, headers=bearer(forged)).status_code == 401


def test_demo_apps_on_one_database_accept_each_others_tokens(database_url: str, db: Engine) -> None:
    make_user(db, "root", "admin")
    with TestClient(create_app(demo(database_url))) as first:
        token = sign_in(first, "root")
        with TestClient(create_app(demo(database_url))) as second:
            assert second.get(USERS, headers=bearer(token)).status_code == 200
    with TestClient(create_app(demo(database_url))) as restarted:
        assert restarted.get(USERS, headers=bearer(token)).status_code == 200


def test_concurrent_first_starts_agree_on_one_secret(database_url: str, db: Engine) -> None:
    async def start_many() -> set[str]:
        engines = [engine_for(demo(database_url)) for _ in range(4)]
        try:
            resolved = await asyncio.gather(
                *(with_token_secret(demo(database_url), make_sessionmaker(e)) for e in engines)
            )
        finally:
            for engine in engines:
                await engine.dispose()
        return {s.signing_secret() for s in resolved}

    assert len(asyncio.run(start_many())) == 1
    with db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(InstanceSecret)).scalar_one() == 1


def test_generated_secret_differs_between_fresh_databases(tmp_path: Path) -> None:
    secrets = set()
    for name in ("one", "two"):
        url = f"sqlite:///{tmp_path / name}.db"
        upgrade(url)
        app = create_app(demo(url))
        with TestClient(app):
            secrets.add(app.state.settings.signing_secret())
    assert len(secrets) == 2
    assert all(len(secret) >= 48 for secret in secrets)


def test_configured_secret_wins_in_demo_mode(database_url: str, db: Engine) -> None:
    app = create_app(Settings(database_url=database_url, demo=True, secret_key="x" * 48))
    with TestClient(app):
        assert app.state.settings.signing_secret() == "x" * 48


def test_app_without_secret_outside_demo_mode_refuses_to_start(database_url: str) -> None:
    app = create_app(Settings(database_url=database_url))
    with pytest.raises(MissingSecret), TestClient(app):
        pass


def test_serve_without_secret_outside_demo_mode_exits_2_without_traceback(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "SMARTVILLAGE_SECRET_KEY"}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path}/never.db"
    done = subprocess.run(
        [sys.executable, "-m", "api.cli", "serve", "--no-demo", "--port", "1"],
        env=env, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "SMARTVILLAGE_SECRET_KEY is not set" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "never.db").exists()


@pytest.mark.parametrize("value", ["", "   "], ids=["empty", "blank"])
def test_blank_secret_from_environment_counts_as_unset(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("SMARTVILLAGE_SECRET_KEY", value)
    assert Settings().secret_key is None


def test_code_ships_no_default_secret() -> None:
    assert Settings.model_fields["secret_key"].default is None
