"""Single-statement reads beside the ORM, for the routes every dashboard polls.

A village's score and a page of a ranking are one SELECT each. On PostgreSQL they run on
asyncpg's own pool: one round trip, a prepared statement, no transaction to open and roll
back, no pre-ping. On SQLite they run on the engine's connection. The statements are
SQLAlchemy Core, compiled once per dialect; rows come back as plain tuples (no ORM
objects). Reads see every committed write: nothing here caches a result.
"""

from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg
from sqlalchemy import Select, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from api.infra.settings import Settings


async def _keep_as_is(_connection: asyncpg.Connection) -> None:
    """A returned connection needs no reset: these reads take no locks, set nothing and
    listen to nothing (asyncpg's default reset costs a round trip per request)."""


class Reads:
    """Run compiled Core selects on the fastest path the database offers."""

    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self._pool: asyncpg.Pool | None = None
        self._compiled: dict[int, tuple[Select[Any], str, tuple[str, ...], dict[str, Any]]] = {}

    async def open(self) -> None:
        """Create the PostgreSQL pool (it connects on first use: nothing connects yet)."""
        if self.engine.dialect.name != "postgresql":
            return
        s = self.settings
        url = make_url(s.async_url).set(drivername="postgresql")
        self._pool = await asyncpg.create_pool(
            url.render_as_string(hide_password=False),
            min_size=0,
            max_size=s.pool_size,
            timeout=s.connect_timeout,
            command_timeout=s.statement_timeout + s.connect_timeout,
            server_settings={"statement_timeout": str(int(s.statement_timeout * 1000))},
            reset=_keep_as_is,
        )

    async def close(self) -> None:
        """Close the pool's connections."""
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    def _sql(self, stmt: Select[Any], params: Mapping[str, Any]) -> tuple[str, list[Any]]:
        """`stmt` compiled for the driver (once), and its positional arguments: `params`
        by name over the statement's own literals (a `LIMIT 1` is a parameter too)."""
        found = self._compiled.get(id(stmt))
        if found is None or found[0] is not stmt:
            compiled = stmt.compile(dialect=self.engine.dialect)
            names = tuple(compiled.positiontup or ())
            found = (stmt, compiled.string, names, dict(compiled.params))
            self._compiled[id(stmt)] = found
        _, sql, names, defaults = found
        return sql, [params[n] if n in params else defaults[n] for n in names]

    async def all(self, stmt: Select[Any], params: Mapping[str, Any]) -> Sequence[Sequence[Any]]:
        """Every row `stmt` selects with `params` bound by name."""
        if self._pool is None:
            async with self.engine.connect() as conn:
                return [tuple(row) for row in await conn.execute(stmt, dict(params))]
        sql, args = self._sql(stmt, params)
        async with self._pool.acquire(timeout=self.settings.connect_timeout) as pooled:
            records = await pooled.fetch(sql, *args)
            return [tuple(r) for r in records]

    async def first(self, stmt: Select[Any], params: Mapping[str, Any]) -> Sequence[Any] | None:
        """The first row `stmt` selects, or None."""
        rows = await self.all(stmt, params)
        return rows[0] if rows else None
