"""What a worker may remember for at most a second: who a credential is, where a unit sits.

Reads are far more frequent than the writes that change identities and units, so a GET
reuses an answer looked up less than `TTL` seconds ago instead of asking the database
again. Every unsafe request (POST, PUT, PATCH, DELETE) forgets everything this worker
remembers before it runs, so a revoked key, a deactivated account or a moved unit is
refused at once by the worker that changed it and within `TTL` by every other worker.
"""

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")
TTL = 1.0
MAX_ENTRIES = 10_000


class Recent(Generic[K, V]):
    """A bounded map whose entries expire `ttl` seconds after they were stored."""

    def __init__(self, *, ttl: float = TTL, max_entries: int = MAX_ENTRIES) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._loading: dict[K, asyncio.Future[V | None]] = {}
        self._generation = 0  # bumped by clear(): a load begun before it is not kept

    def get(self, key: K) -> V | None:
        """The value stored under `key` less than `ttl` seconds ago, else None."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if time.monotonic() - entry[0] >= self.ttl:
            del self._entries[key]
            return None
        return entry[1]

    def put(self, key: K, value: V) -> None:
        """Remember `value` (the oldest entry goes when the map is full)."""
        self._entries[key] = (time.monotonic(), value)
        self._entries.move_to_end(key)
        if len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        """Forget everything (a write may have changed what the entries say)."""
        self._entries.clear()
        self._loading.clear()
        self._generation += 1

    async def get_or_load(self, key: K, load: Callable[[], Awaitable[V | None]]) -> V | None:
        """The remembered value, else `load()`'s (remembered unless None). Requests that
        miss together wait for one load instead of each asking the database (when an
        entry expires under load, every request in flight would otherwise miss at once)."""
        value = self.get(key)
        if value is not None:
            return value
        loading = self._loading.get(key)
        if loading is not None:
            shared = await asyncio.shield(loading)
            return shared if shared is not None else await load()
        future: asyncio.Future[V | None] = asyncio.get_running_loop().create_future()
        self._loading[key] = future
        generation, value = self._generation, None
        try:
            value = await load()
        finally:
            if self._loading.get(key) is future:
                del self._loading[key]
            future.set_result(value)  # None after a failure: the waiters load for themselves
        if value is not None and generation == self._generation:
            self.put(key, value)
        return value
