"""Rate-limit leases (`api.web.rate_limit`): a worker claims 1 % of a credential's minute
at once; parallel requests share one claim; no more than the limit is ever admitted."""

import asyncio
import time

import httpx
from sqlalchemy import Engine, func, select

from api.app import create_app
from api.infra.settings import Settings
from models.operations import RateCounter
from tests.accounts import bearer
from tests.api.conftest import V

RATE_COUNTER = RateCounter.__table__  # type: ignore[attr-defined]


def _claimed(db: Engine) -> int:
    with db.connect() as conn:
        return int(conn.scalar(select(func.coalesce(func.sum(RATE_COUNTER.c.count), 0))) or 0)


async def _parallel(settings: Settings, token: str, n: int, limit: int) -> list[int]:
    app = create_app(settings.model_copy(update={"rate_limit": limit}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            head = bearer(token)
            answers = await asyncio.gather(*(client.get(f"{V}/me", headers=head) for _ in range(n)))
    return [a.status_code for a in answers]


def _fresh_window() -> None:
    left = 60 - time.time() % 60
    if left < 10:
        time.sleep(left + 0.05)


def test_parallel_requests_share_one_lease(
    settings: Settings, admin_token: str, db: Engine
) -> None:
    _fresh_window()
    assert asyncio.run(_parallel(settings, admin_token, 64, limit=10_000)) == [200] * 64
    assert _claimed(db) == 100  # one lease of 1 %, not one per request in flight


def test_no_more_than_the_limit_is_admitted(
    settings: Settings, admin_token: str, db: Engine
) -> None:
    _fresh_window()
    statuses = asyncio.run(_parallel(settings, admin_token, 260, limit=250))
    assert statuses.count(200) == 250
    assert set(statuses) == {200, 429}
