"""Workers remember callers for at most a second (`api.web.recent`): a revoked key and a
deactivated account stop working within 1 s on every worker of `serve --workers 2`."""

import time
from collections.abc import Callable

import httpx
from sqlalchemy import text

from tests.accounts import bearer, make_user
from tests.live.conftest import Live

V = "/api/v1"
TTL = 1.0
PROBES = 24  # each on a new connection: the kernel spreads them over both workers


def _statuses(live: Live, headers: dict[str, str]) -> list[int]:
    """One GET per new connection, as many callers on many phones would."""
    out = []
    for _ in range(PROBES):
        with httpx.Client(base_url=live.base_url, headers=headers, timeout=10) as client:
            out.append(client.get(f"{V}/units", params={"limit": 1}).status_code)
    return out


def _refused_within_a_second(
    live: Live, headers: dict[str, str], revoke: Callable[[], None]
) -> None:
    assert _statuses(live, headers) == [200] * PROBES  # every worker now remembers it
    revoke()
    revoked_at = time.monotonic()
    time.sleep(max(0.0, revoked_at + TTL + 0.05 - time.monotonic()))
    assert set(_statuses(live, headers)) == {401}


def test_a_revoked_key_stops_working_on_every_worker(live: Live) -> None:
    created = httpx.post(f"{live.base_url}{V}/api-keys", json={"name": "map"}, headers=live.admin)
    assert created.status_code == 201, created.text
    key = {"X-API-Key": created.json()["key"]}

    def revoke() -> None:  # straight in the database: no worker is told
        with live.engine.begin() as conn:
            conn.execute(text("UPDATE api_key SET revoked_at = CURRENT_TIMESTAMP"))

    _refused_within_a_second(live, key, revoke)


def test_a_deactivated_account_stops_working_on_every_worker(live: Live) -> None:
    token = bearer(make_user(live.engine, "soon-gone", "reviewer", "37", minutes=10))

    def deactivate() -> None:
        with live.engine.begin() as conn:
            conn.execute(
                text("UPDATE user_account SET is_active = false WHERE username = 'soon-gone'")
            )

    _refused_within_a_second(live, token, deactivate)


def test_a_key_revoked_through_the_api_is_refused_at_once_by_that_worker(live: Live) -> None:
    created = httpx.post(f"{live.base_url}{V}/api-keys", json={"name": "app"}, headers=live.admin)
    key = {"X-API-Key": created.json()["key"]}
    with httpx.Client(base_url=live.base_url, timeout=10) as client:  # one connection: one worker
        assert client.get(f"{V}/units", headers=key).status_code == 200
        revoked = client.delete(f"{V}/api-keys/{created.json()['id']}", headers=live.admin)
        assert revoked.status_code == 204, revoked.text
        assert client.get(f"{V}/units", headers=key).status_code == 401
