"""Database fixtures shared by the test suites.

`database_url` runs a test on both databases: a SQLite file in tmp_path, and a fresh PostgreSQL
database created for the test (and dropped afterwards) through the admin URL in
LEAKBOT_TEST_PG_URL (default postgresql://postgres@127.0.0.1:5432/test). When PostgreSQL is not
reachable the PostgreSQL variant is skipped with the reason, unless LEAKBOT_REQUIRE_POSTGRES=1
(CI), where it fails.

The database is empty, except for tests that use the `store` fixture: on PostgreSQL those get a
copy of a template database migrated once per session (CREATE DATABASE … TEMPLATE), which saves
the migration time of every test; the migration tests use `database_url` alone.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy.engine import make_url

from bot.store import Store

DEFAULT_PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"

RawSQL = Callable[[str], Awaitable[list[tuple[Any, ...]]]]
StoreFactory = Callable[[], Awaitable[Store]]

_pg_unreachable: str | None = None  # remembered per test session: do not wait on every test
_pg_template: str | None = None  # migrated template database, created on first use


def pg_admin_url() -> str:
    return os.environ.get("LEAKBOT_TEST_PG_URL") or DEFAULT_PG_ADMIN_URL


def _libpq_url(url: str) -> str:
    """asyncpg takes plain postgresql:// DSNs."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def _pg_unavailable(reason: str) -> None:
    url = make_url(pg_admin_url())
    message = (
        f"PostgreSQL not reachable at {url.host or 'localhost'}:{url.port or 5432} "
        f"(set LEAKBOT_TEST_PG_URL or start it): {reason}"
    )
    if os.environ.get("LEAKBOT_REQUIRE_POSTGRES") == "1":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


async def _admin_connection() -> asyncpg.Connection:
    global _pg_unreachable
    if _pg_unreachable is not None:
        _pg_unavailable(_pg_unreachable)
    try:
        return await asyncpg.connect(_libpq_url(pg_admin_url()), timeout=5)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        _pg_unreachable = f"{type(exc).__name__}: {exc}"
        _pg_unavailable(_pg_unreachable)
        raise  # unreachable: skip / fail raise


def _pg_url(database: str) -> str:
    return make_url(pg_admin_url()).set(database=database).render_as_string(hide_password=False)


async def _migrated_template(admin: asyncpg.Connection) -> str:
    global _pg_template
    if _pg_template is None:
        name = f"leakbot_test_tpl_{uuid.uuid4().hex[:12]}"
        await admin.execute(f'CREATE DATABASE "{name}"')
        migrated = await Store.open(_pg_url(name))
        await migrated.close()  # a template must have no open connections
        _pg_template = name
    return _pg_template


@pytest.fixture(scope="session", autouse=True)
def _drop_pg_template() -> Iterator[None]:
    yield
    if _pg_template is None:
        return

    async def drop(name: str) -> None:
        admin = await asyncpg.connect(_libpq_url(pg_admin_url()), timeout=5)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    asyncio.run(drop(_pg_template))


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
async def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[str]:
    """A fresh database for this test, as a DATABASE_URL (empty; see the module doc)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'leakbot.db'}"
        return
    name = f"leakbot_test_{uuid.uuid4().hex[:16]}"
    admin = await _admin_connection()
    try:
        if "store" in request.fixturenames:
            template = await _migrated_template(admin)
            await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        else:
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield _pg_url(name)
    finally:
        admin = await _admin_connection()
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture
def db_kind(database_url: str) -> str:
    return "postgresql" if database_url.startswith("postgres") else "sqlite"


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    """An opened, migrated Store on each database."""
    opened = await Store.open(database_url)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def open_store(database_url: str) -> AsyncIterator[StoreFactory]:
    """Open more Stores (separate engines and pools, like separate processes) on the same DB."""
    opened: list[Store] = []

    async def factory() -> Store:
        extra = await Store.open(database_url)
        opened.append(extra)
        return extra

    try:
        yield factory
    finally:
        for extra in opened:
            await extra.close()


@pytest.fixture
def raw_sql(database_url: str) -> RawSQL:
    """Run one SQL statement on the test database outside the Store (autocommit)."""

    async def run(statement: str) -> list[tuple[Any, ...]]:
        if database_url.startswith("sqlite"):
            path = make_url(database_url).database
            assert path
            conn = sqlite3.connect(path, isolation_level=None, timeout=5)
            try:
                return [tuple(row) for row in conn.execute(statement).fetchall()]
            finally:
                conn.close()
        pg = await asyncpg.connect(_libpq_url(database_url), timeout=5)
        try:
            return [tuple(row) for row in await pg.fetch(statement)]
        finally:
            await pg.close()

    return run
