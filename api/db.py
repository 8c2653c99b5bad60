"""Database engines and the per-request session dependency."""

from collections.abc import AsyncIterator
from typing import Any

from fastapi import Request
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from api.settings import Settings, to_async_url, to_sync_url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Foreign keys are off by default in SQLite; WAL lets readers run beside one writer.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """Build the async engine for a database URL (any accepted spelling)."""
    async_url = to_async_url(url)
    if async_url.startswith("sqlite"):
        engine = create_async_engine(async_url, connect_args={"timeout": 10})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(
        async_url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=False
    )


def make_sync_engine(url: str) -> Engine:
    """A synchronous engine, for migrations and test housekeeping."""
    sync_url = to_sync_url(url)
    engine = create_engine(sync_url)
    if sync_url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded values after commit (responses are built after it)."""
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


def engine_for(settings: Settings) -> AsyncEngine:
    """The engine the settings describe."""
    return make_engine(settings.database_url, pool_size=settings.pool_size)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request; whatever the service did not commit is rolled back."""
    maker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with maker() as session:
        try:
            yield session
        finally:
            await session.rollback()
