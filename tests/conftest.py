"""Fixtures shared by the whole suite (shared builders and paths live in tests/builders.py),
and the stores of the store contract tests: each test on SQLite and on PostgreSQL."""

from __future__ import annotations

import gc
import itertools
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import settings

from aggregator.store import Store, open_store
from tests.stores import PG_SERVER, START_PG, pg_url

# Hypothesis's per-example deadline is a timing assertion: on a loaded two-core machine a
# store round trip can outlast it and fail a property that holds.
settings.register_profile("wiredesk", deadline=None)
settings.load_profile("wiredesk")


@pytest.fixture(autouse=True)
def unfrozen_gc() -> Iterator[None]:
    """``collect`` freezes the heap for the rest of its process (``gc.freeze``); after a
    test that ran it in this one, the fixture unfreezes the heap and collects it, so that
    what the test left (a connection, a file) is finalised now, in its own test."""
    yield
    if gc.get_freeze_count():
        gc.unfreeze()
        gc.collect()


@pytest.fixture(autouse=True)
def config_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The config parses of the session (``config/tree.py``) are cached in a folder of its
    own, never in the user's ~/.cache; the CLI's subprocesses inherit it."""
    folder = tmp_path_factory.getbasetemp() / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(folder))
    return folder / "wiredesk"


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[psycopg.Connection[Any]]:
    """One connection to the test database for the whole session, to create and drop the
    tests' schemas. Skips the test when PostgreSQL is not running (fails under CI=true)."""
    try:
        conn = psycopg.connect(PG_SERVER, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as e:
        why = f"PostgreSQL is not running on 127.0.0.1:5432; start it with: {START_PG}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{why} ({e})")
        pytest.skip(why)
    with conn:
        yield conn


@pytest.fixture
def pg_schema(pg_admin: psycopg.Connection[Any]) -> Iterator[Callable[[], str]]:
    """Make a fresh schema of the test's own and return its store URL; every schema made is
    dropped after the test."""
    made: list[str] = []

    def make() -> str:
        made.append(f"test_{uuid.uuid4().hex[:16]}")
        pg_admin.execute(f"CREATE SCHEMA {made[-1]}")
        return pg_url(made[-1])

    yield make
    for schema in made:
        pg_admin.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgres"])
def new_location(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], str]:
    """Make the location of a fresh, empty store: the contract tests that use it run once
    with a SQLite file in ``tmp_path`` and once with a PostgreSQL schema of their own."""
    if request.param == "postgres":
        made: Callable[[], str] = request.getfixturevalue("pg_schema")
        return made
    numbers = itertools.count(1)
    return lambda: str(tmp_path / f"store-{next(numbers)}" / "wiredesk.db")


@pytest.fixture
def store_location(new_location: Callable[[], str]) -> str:
    """The location of the test's store (``new_location``), to open it again."""
    return new_location()


@pytest.fixture
def store(store_location: str) -> Iterator[Store]:
    """An empty store of each backend, closed after the test."""
    opened = open_store(store_location)
    yield opened
    opened.close()


@pytest.fixture
def near_store(new_location: Callable[[], str]) -> Iterator[Store]:
    """Another empty store of the same backend, with near-duplicate matching on."""
    opened = open_store(new_location(), similarity=0.8)
    yield opened
    opened.close()
