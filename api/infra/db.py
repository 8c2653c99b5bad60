"""Database engines and the per-request session dependency."""

from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from api.infra.settings import Settings, to_async_url, to_sync_url


def _sqlite_pragmas(busy_ms: int) -> Callable[[Any, Any], None]:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Foreign keys are off by default in SQLite; WAL lets readers run beside one writer;
        # the busy timeout bounds how long a writer waits for the lock before failing (503).
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return on_connect


def make_engine(
    url: str,
    *,
    pool_size: int = 10,
    statement_timeout: float | None = None,
    connect_timeout: float = 5.0,
) -> AsyncEngine:
    """Build the async engine for a database URL (any accepted spelling).

    Every wait is bounded (SPEC §9): connecting, waiting for a pooled connection, and each
    statement when `statement_timeout` is given (seconds; None means no limit, for batch jobs).
    """
    async_url = to_async_url(url)
    if async_url.startswith("sqlite"):
        wait = statement_timeout or 10.0
        engine = create_async_engine(async_url, connect_args={"timeout": wait})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas(int(wait * 1000)))
        return engine
    connect_args: dict[str, Any] = {"timeout": connect_timeout}
    if statement_timeout is not None:
        # The server cancels the statement (SQLSTATE 57014); the client-side command timeout
        # is the backstop when the server itself stops answering.
        connect_args["server_settings"] = {"statement_timeout": str(int(statement_timeout * 1000))}
        connect_args["command_timeout"] = statement_timeout + connect_timeout
    return create_async_engine(
        async_url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_timeout=connect_timeout,
        connect_args=connect_args,
    )


def make_sync_engine(url: str) -> Engine:
    """A synchronous engine, for migrations and test housekeeping."""
    sync_url = to_sync_url(url)
    engine = create_engine(sync_url)
    if sync_url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas(10_000))
    return engine


def database_problem(settings: Settings) -> str | None:
    """Why the database cannot be reached right now (None when it answers `SELECT 1`)."""
    timeout = max(1, int(settings.connect_timeout))
    args = {} if settings.is_sqlite else {"connect_timeout": timeout}
    engine = create_engine(settings.sync_url, poolclass=NullPool, connect_args=args)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError) as exc:
        first_line = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        return f"{type(exc).__name__}: {first_line[0] if first_line else ''}"
    finally:
        engine.dispose()
    return None


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded values after commit (responses are built after it)."""
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


def engine_for(settings: Settings, *, batch: bool = False) -> AsyncEngine:
    """The engine the settings describe; `batch` (CLI jobs) lifts the statement timeout."""
    return make_engine(
        settings.database_url,
        pool_size=settings.pool_size,
        statement_timeout=None if batch else settings.statement_timeout,
        connect_timeout=settings.connect_timeout,
    )
