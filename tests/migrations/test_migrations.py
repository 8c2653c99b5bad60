"""The Alembic chain: one head, a clean down/up round trip, and no drift from the models.

Each test migrates its own empty database on the backend of this run (a SQLite file, or
a `sv_mig_<hex>` database on the TEST_DATABASE_URL server), never the shared test database.
"""

import ast
from collections.abc import Iterator
from pathlib import Path
from pprint import pformat

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from api.infra.db import make_sync_engine
from api.infra.migrate import alembic_config, downgrade, upgrade
from api.infra.settings import to_sync_url
from models import metadata
from models.base import compared_by_autogenerate
from tests.pg import create_database, drop_database

APP_PACKAGES = {"api", "models", "criteria"}


@pytest.fixture
def empty_database_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A new, empty database on the same backend (and server) as this run's test database."""
    server = make_url(to_sync_url(database_url))
    if server.get_backend_name() != "postgresql":
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    url = create_database(database_url, "sv_mig")
    try:
        yield url
    finally:
        drop_database(url)


@pytest.fixture(scope="module")
def scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config("sqlite://"))


def _table_names(url: str) -> set[str]:
    engine = make_sync_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_script_directory_has_exactly_one_head(scripts: ScriptDirectory) -> None:
    heads = scripts.get_heads()
    assert len(heads) == 1, f"branched migrations, merge them: heads {heads}"


def test_every_revision_has_downgrade_and_imports_no_app_code(scripts: ScriptDirectory) -> None:
    problems = []
    for revision in scripts.walk_revisions():
        path = Path(str(revision.path))
        tree = ast.parse(path.read_text(encoding="utf-8"))
        functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
        if not {"upgrade", "downgrade"} <= functions:
            problems.append(f"{path.name}: needs both upgrade() and downgrade()")
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            problems += [
                f"{path.name}: imports {m} (migrations must not depend on the app)"
                for m in modules
                if m.split(".")[0] in APP_PACKAGES
            ]
    assert problems == []


def test_upgrade_downgrade_upgrade_round_trip_creates_every_table(
    empty_database_url: str,
) -> None:
    model_tables = set(metadata.tables)

    upgrade(empty_database_url, "head")
    assert model_tables <= _table_names(empty_database_url)

    downgrade(empty_database_url, "base")
    assert _table_names(empty_database_url) - {"alembic_version"} == set()

    upgrade(empty_database_url, "head")
    missing = model_tables - _table_names(empty_database_url)
    assert missing == set()


def test_upgrade_head_stamps_the_single_head(
    empty_database_url: str, scripts: ScriptDirectory
) -> None:
    upgrade(empty_database_url, "head")
    engine = make_sync_engine(empty_database_url)
    try:
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_heads()
    finally:
        engine.dispose()
    assert current == tuple(scripts.get_heads())


def test_autogenerate_finds_no_difference_between_models_and_migrations(
    empty_database_url: str,
) -> None:
    upgrade(empty_database_url, "head")
    engine = make_sync_engine(empty_database_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn,
                opts={
                    "compare_type": True,
                    "render_as_batch": conn.dialect.name == "sqlite",
                    "include_object": compared_by_autogenerate,
                },
            )
            diff = compare_metadata(context, metadata)
    finally:
        engine.dispose()
    assert diff == [], (
        "models and migrations differ; run `alembic revision --autogenerate -m <slug>`:\n"
        + pformat(diff)
    )
