"""The worker's one-second memory of callers and units (`api.web.recent`)."""

import asyncio

import pytest

from api.web.recent import Recent


def test_an_entry_expires_after_its_ttl(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr("api.web.recent.time.monotonic", lambda: now[0])
    memory: Recent[str, int] = Recent(ttl=1.0)
    memory.put("a", 1)
    now[0] = 100.99
    assert memory.get("a") == 1
    now[0] = 101.0
    assert memory.get("a") is None


def test_the_oldest_entry_goes_when_full() -> None:
    memory: Recent[int, int] = Recent(max_entries=2)
    for key in (1, 2, 3):
        memory.put(key, key)
    assert [memory.get(k) for k in (1, 2, 3)] == [None, 2, 3]


def test_requests_that_miss_together_share_one_load() -> None:
    memory: Recent[str, str] = Recent()
    loads = []

    async def load() -> str:
        loads.append(1)
        await asyncio.sleep(0.01)
        return "caller"

    async def many() -> list[str | None]:
        return await asyncio.gather(*(memory.get_or_load("k", load) for _ in range(20)))

    assert asyncio.run(many()) == ["caller"] * 20
    assert len(loads) == 1


def test_a_load_begun_before_a_clear_is_not_kept() -> None:
    memory: Recent[str, str] = Recent()

    async def scenario() -> str | None:
        async def load() -> str:
            memory.clear()  # a write ran while the database was being asked
            return "stale"

        assert await memory.get_or_load("k", load) == "stale"
        return memory.get("k")

    assert asyncio.run(scenario()) is None


def test_nothing_is_kept_after_a_failed_or_refused_load() -> None:
    memory: Recent[str, str] = Recent()

    async def refused() -> str | None:
        return None

    async def failing() -> str | None:
        raise RuntimeError("database down")

    assert asyncio.run(memory.get_or_load("k", refused)) is None
    with pytest.raises(RuntimeError):
        asyncio.run(memory.get_or_load("k", failing))
    assert memory.get("k") is None
