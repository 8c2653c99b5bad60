"""Fixtures of the fault tests: a PostgreSQL cluster of their own, and where logs go."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fault.cluster import Cluster, find_pg_bin


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.fault)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    """A fresh, stopped cluster (initdb done); stopped and deleted after the test."""
    bindir = find_pg_bin()
    if bindir is None:
        message = "PostgreSQL server binaries (initdb) are not installed"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}; CI must run the fault tests")
        pytest.skip(message)
    made = Cluster(bindir)
    try:
        made.init()
        yield made
    finally:
        made.destroy()
