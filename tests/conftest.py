"""Shared fixtures: every store test runs on SQLite and on PostgreSQL.

PostgreSQL tests use `QMON_TEST_POSTGRES_URL` (set by `.ci/run`); each test gets its own
schema, dropped afterwards. Without the variable they are skipped with a reason, so the
README's test command passes on a laptop without PostgreSQL; with it, an unreachable server
is a failure, not a skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.pgschema import private_schema

PG_ENV = "QMON_TEST_POSTGRES_URL"


def _pg_schema_url() -> Iterator[str]:
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"PostgreSQL tests need {PG_ENV} (set by .ci/run)")
    with private_schema(base) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """A fresh, empty database URL: SQLite in tmp_path, or a private PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
    else:
        yield from _pg_schema_url()


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see the developer's own qmon settings."""
    for var in ("QMON_CONFIG", "QMON_DATABASE_URL"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A private PostgreSQL schema (skipped without QMON_TEST_POSTGRES_URL)."""
    yield from _pg_schema_url()
