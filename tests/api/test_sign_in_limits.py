"""Sign-in limits (SPEC §9 "Rates") against a real server: per pair, per username, per address.

Parallel guesses come from real sockets; other client addresses are other loopback
addresses (127.0.0.2, …) the client binds to, so the server sees them as the peer.
"""

import asyncio
import statistics
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.app import create_app
from api.infra.settings import Settings
from tests.accounts import TEST_PASSWORD, make_user
from tests.api.conftest import V
from tests.served import served

PROBLEM = "application/problem+json"
TOKEN_URL = f"{V}/auth/token"
WRONG = "not the password"


@pytest.fixture(scope="module")
def live_url(database_url: str) -> Iterator[str]:
    """Two workers, so that parallel guesses also race across processes."""
    with served(database_url, workers=2, env={"SMARTVILLAGE_RATE_LIMIT": "0"}) as base_url:
        yield base_url


async def _sign_ins(
    base_url: str, attempts: list[tuple[str, str]], *, address: str = "127.0.0.1"
) -> list[httpx.Response]:
    """All `attempts` (username, password) at once, each on its own connection from `address`."""
    transport = httpx.AsyncHTTPTransport(local_address=address)
    limits = httpx.Limits(max_connections=len(attempts), max_keepalive_connections=0)
    async with httpx.AsyncClient(
        base_url=base_url, transport=transport, limits=limits, timeout=60
    ) as client:
        return await asyncio.gather(
            *(
                client.post(TOKEN_URL, data={"username": name, "password": password})
                for name, password in attempts
            )
        )


def _sign_in(base_url: str, username: str, password: str, address: str) -> httpx.Response:
    return asyncio.run(_sign_ins(base_url, [(username, password)], address=address))[0]


def _assert_429(response: httpx.Response) -> None:
    assert response.status_code == 429
    assert response.headers["content-type"] == PROBLEM
    assert 1 <= int(response.headers["retry-after"]) <= 15 * 60
    assert "access_token" not in response.json()


def test_thirty_parallel_wrong_guesses_check_only_five_passwords(
    live_url: str, admin_token: str
) -> None:
    answers = asyncio.run(_sign_ins(live_url, [("root", WRONG)] * 30))
    statuses = [answer.status_code for answer in answers]
    assert statuses.count(401) == 5  # one password check each: the reservation is atomic
    assert statuses.count(429) == 25
    for answer in answers:
        if answer.status_code == 429:
            _assert_429(answer)


def test_owner_from_other_address_is_not_locked_out_by_attacker(
    live_url: str, admin_token: str
) -> None:
    answers = asyncio.run(_sign_ins(live_url, [("root", WRONG)] * 5))
    assert [answer.status_code for answer in answers] == [401] * 5
    _assert_429(_sign_in(live_url, "root", TEST_PASSWORD, "127.0.0.1"))
    assert _sign_in(live_url, "root", TEST_PASSWORD, "127.0.0.2").status_code == 200
    # The owner's success clears only the owner's own failures.
    _assert_429(_sign_in(live_url, "root", TEST_PASSWORD, "127.0.0.1"))


def test_twenty_failures_from_anywhere_lock_the_username(live_url: str, admin_token: str) -> None:
    for n in range(1, 5):
        answers = asyncio.run(_sign_ins(live_url, [("root", WRONG)] * 5, address=f"127.0.0.{n}"))
        assert [answer.status_code for answer in answers] == [401] * 5
    _assert_429(_sign_in(live_url, "root", TEST_PASSWORD, "127.0.0.5"))


def test_nineteen_failures_from_anywhere_leave_the_username_open(
    live_url: str, admin_token: str
) -> None:
    for n in range(1, 5):
        guesses = [("root", WRONG)] * (5 if n < 4 else 4)
        asyncio.run(_sign_ins(live_url, guesses, address=f"127.0.0.{n}"))
    assert _sign_in(live_url, "root", TEST_PASSWORD, "127.0.0.5").status_code == 200


def test_address_limit_across_usernames_locks_the_address(
    settings: Settings, admin_token: str
) -> None:
    limited = settings.model_copy(update={"login_address_limit": 8})
    with (  # an app each (a TestClient runs its own event loop), one database
        TestClient(create_app(limited), client=("10.0.0.1", 40000)) as attacker,
        TestClient(create_app(limited), client=("10.0.0.2", 40000)) as owner,
    ):
        for n in range(8):
            form = {"username": f"user{n}", "password": WRONG}
            assert attacker.post(TOKEN_URL, data=form).status_code == 401
        right = {"username": "root", "password": TEST_PASSWORD}
        _assert_429(attacker.post(TOKEN_URL, data=right))
        assert owner.post(TOKEN_URL, data=right).status_code == 200


def test_healthz_stays_fast_during_a_spray_of_sign_ins(database_url: str, db: Engine) -> None:
    for n in range(50):
        make_user(db, f"sprayed{n}", "admin")
    # One worker: with two, a new connection goes to whichever worker is free to accept it.
    with served(database_url, workers=1, env={"SMARTVILLAGE_RATE_LIMIT": "0"}) as base_url:
        latencies, statuses = asyncio.run(_healthz_during_spray(base_url, sign_ins=50))
    assert len(latencies) >= 20
    p99 = statistics.quantiles(latencies, n=100)[98]
    assert p99 < 0.100, f"healthz p99 {p99 * 1000:.0f} ms over {len(latencies)} probes"
    assert statuses == {401}


async def _healthz_during_spray(base_url: str, *, sign_ins: int) -> tuple[list[float], set[int]]:
    spray = asyncio.ensure_future(
        _sign_ins(base_url, [(f"sprayed{n}", WRONG) for n in range(sign_ins)])
    )
    stop = threading.Event()
    probe = asyncio.ensure_future(asyncio.to_thread(_probe_healthz, base_url, stop))
    try:
        answers = await spray
    finally:
        stop.set()
    return await probe, {answer.status_code for answer in answers}


def _probe_healthz(base_url: str, stop: threading.Event) -> list[float]:
    """/healthz latencies until `stop`, from a thread of its own (the spray shares our loop).

    A new connection per probe: with several workers uvicorn's sockets lack TCP_NODELAY, and
    a kept-alive connection then adds a delayed-ACK 40 ms to every answer, spray or not.
    """
    latencies: list[float] = []
    limits = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(base_url=base_url, limits=limits, timeout=10) as client:
        while not stop.is_set():
            started = time.perf_counter()
            assert client.get("/healthz").status_code == 200
            latencies.append(time.perf_counter() - started)
            time.sleep(0.01)
    return latencies
