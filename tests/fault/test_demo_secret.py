"""The README's `smartvillage serve` (demo mode, no SMARTVILLAGE_SECRET_KEY) on PostgreSQL:
replicas share the secret kept in the database, and a token signed with the secret the code
once shipped is refused."""

import warnings
from pathlib import Path

import httpx
import jwt

from api.core import security
from tests.accounts import bearer
from tests.fault.cluster import Cluster
from tests.served import served

OLD_SHIPPED_SECRET = "dev-insecure-secret-change-me"
# An empty SMARTVILLAGE_SECRET_KEY counts as unset (served() would pass the tests' secret).
DEMO_ENV = {"SMARTVILLAGE_SECRET_KEY": "", "SMARTVILLAGE_RATE_LIMIT": "0"}


def sign_in(base: str) -> str:
    form = {"username": "admin", "password": "demo-admin-pass"}
    response = httpx.post(f"{base}/api/v1/auth/token", data=form, timeout=30)
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def forged_admin_token() -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
        token, _ = security.create_token(secret=OLD_SHIPPED_SECRET, username="admin", minutes=5)
    return token


def test_demo_replicas_share_a_secret_nobody_can_forge(cluster: Cluster, tmp_path: Path) -> None:
    cluster.start()
    url = cluster.url
    with served(url, workers=2, env=DEMO_ENV, args=(), log=tmp_path / "first.log") as first:
        token = sign_in(first)
        with served(url, workers=2, env=DEMO_ENV, args=(), log=tmp_path / "second.log") as second:
            statuses = {httpx.get(f"{second}/api/v1/users", headers=bearer(token)).status_code
                        for _ in range(6)}  # fmt: skip
            forged = httpx.get(f"{second}/api/v1/users", headers=bearer(forged_admin_token()))
    with served(url, workers=1, env=DEMO_ENV, args=(), log=tmp_path / "third.log") as restarted:
        after_restart = httpx.get(f"{restarted}/api/v1/users", headers=bearer(token))
    assert statuses == {200}
    assert forged.status_code == 401
    assert after_restart.status_code == 200
