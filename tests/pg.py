"""Throw-away PostgreSQL databases for a test run, made and dropped on the given server."""

import uuid

import psycopg
from sqlalchemy.engine import URL, make_url

from api.infra.settings import to_sync_url


def _maintenance(url: URL) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(
        host=url.host, port=url.port, user=url.username, password=url.password,
        dbname="postgres", autocommit=True, connect_timeout=5,
    )  # fmt: skip


def create_database(server_url: str, prefix: str) -> str:
    """A new empty database `<prefix>_<random>` on that server; returns its URL."""
    url = make_url(to_sync_url(server_url))
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with _maintenance(url) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.set(database=name).render_as_string(hide_password=False)


def drop_database(db_url: str) -> None:
    """Drop the database at `db_url`, closing whatever is still connected to it."""
    url = make_url(db_url)
    with _maintenance(url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
