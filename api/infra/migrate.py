"""Run Alembic migrations from code (CLI, tests, bench) with the project's own config."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from api.infra.db import make_sync_engine

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
# Any fixed 64-bit number: the PostgreSQL advisory lock that serialises migrators.
MIGRATION_LOCK_KEY = 0x5356_4D49_4752


def alembic_config(url: str) -> Config:
    """An Alembic config for `url` that does not need alembic.ini on disk."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["url"] = url
    return config


@contextmanager
def _one_migrator_at_a_time(url: str) -> Iterator[None]:
    """On PostgreSQL, hold an advisory lock: replicas starting together migrate in turn."""
    engine = make_sync_engine(url)
    try:
        if engine.dialect.name != "postgresql":
            yield
            return
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
                conn.commit()
    finally:
        engine.dispose()


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at `url` up to `revision`."""
    with _one_migrator_at_a_time(url):
        command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    """Migrate the database at `url` down to `revision`."""
    with _one_migrator_at_a_time(url):
        command.downgrade(alembic_config(url), revision)
