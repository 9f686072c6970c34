"""Database fixtures shared by the test suites.

`database_url` runs a test on both databases: a SQLite file in tmp_path, and a fresh PostgreSQL
database created for the test (and dropped afterwards) through the admin URL in
LEAKBOT_TEST_PG_URL (default postgresql://postgres@127.0.0.1:5432/test). When PostgreSQL is not
reachable the PostgreSQL variant is skipped with the reason, unless LEAKBOT_REQUIRE_POSTGRES=1
(CI), where it fails.

The database is empty, except for tests that use the `store` fixture: on PostgreSQL those get a
copy of a template database migrated once per session (CREATE DATABASE … TEMPLATE), which saves
the migration time of every test; the migration tests use `database_url` alone. PostgreSQL
databases are created one ahead and dropped on background threads (see `_PgDatabases`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy.engine import make_url

from bot.store import Store

DEFAULT_PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"

RawSQL = Callable[[str], Awaitable[list[tuple[Any, ...]]]]
StoreFactory = Callable[[], Awaitable[Store]]

_pg_unreachable: str | None = None  # remembered per test session: do not wait on every test


def pg_admin_url() -> str:
    return os.environ.get("LEAKBOT_TEST_PG_URL") or DEFAULT_PG_ADMIN_URL


def _libpq_url(url: str) -> str:
    """asyncpg takes plain postgresql:// DSNs."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def _pg_url(database: str) -> str:
    return make_url(pg_admin_url()).set(database=database).render_as_string(hide_password=False)


def _pg_unavailable(reason: str) -> None:
    url = make_url(pg_admin_url())
    message = (
        f"PostgreSQL not reachable at {url.host or 'localhost'}:{url.port or 5432} "
        f"(set LEAKBOT_TEST_PG_URL or start it): {reason}"
    )
    if os.environ.get("LEAKBOT_REQUIRE_POSTGRES") == "1":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


async def _check_pg_reachable() -> None:
    global _pg_unreachable
    if _pg_unreachable is None:
        try:
            conn = await asyncpg.connect(_libpq_url(pg_admin_url()), timeout=5)
        except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
            _pg_unreachable = f"{type(exc).__name__}: {exc}"
        else:
            await conn.close()
            return
    _pg_unavailable(_pg_unreachable)


async def _admin(statement: str) -> None:
    conn = await asyncpg.connect(_libpq_url(pg_admin_url()), timeout=10)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


class _PgDatabases:
    """Hands out fresh PostgreSQL databases, creating the next one ahead of time.

    CREATE / DROP DATABASE are dominated by fsyncs and checkpoints; they run on background threads
    (each job with its own event loop) while tests run, and drops are batched and run in parallel
    (concurrent drops share checkpoints). "migrated" databases are copies of a template migrated
    once (CREATE DATABASE … TEMPLATE); "empty" ones are plain.
    """

    _DROP_PARALLELISM = 8

    def __init__(self) -> None:
        self._creator = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pg-create")
        self._dropper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pg-drop")
        self._template: Future[str] | None = None
        self._ahead: dict[bool, Future[str]] = {}
        self._lock = threading.Lock()
        self._to_drop: list[str] = []
        self._draining = False

    def _create(self, migrated: bool) -> str:
        name = f"leakbot_test_{uuid.uuid4().hex[:16]}"
        if migrated:
            assert self._template is not None
            template = self._template.result()
            asyncio.run(_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        else:
            asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
        return name

    @staticmethod
    def _make_template() -> str:
        name = f"leakbot_test_tpl_{uuid.uuid4().hex[:12]}"

        async def build() -> None:
            await _admin(f'CREATE DATABASE "{name}"')
            migrated = await Store.open(_pg_url(name))
            await migrated.close()  # a template must have no open connections

        asyncio.run(build())
        return name

    def take(self, *, migrated: bool) -> Future[str]:
        if migrated and self._template is None:
            self._template = self._creator.submit(self._make_template)
        current = self._ahead.pop(migrated, None) or self._creator.submit(self._create, migrated)
        self._ahead[migrated] = self._creator.submit(self._create, migrated)
        return current

    def drop(self, name: str) -> None:
        with self._lock:
            self._to_drop.append(name)
            if not self._draining:
                self._draining = True
                self._dropper.submit(self._drain)

    def _drain(self) -> None:
        while True:
            with self._lock:
                batch, self._to_drop = self._to_drop, []
                if not batch:
                    self._draining = False
                    return
            asyncio.run(self._drop_all(batch))

    async def _drop_all(self, names: list[str]) -> None:
        gate = asyncio.Semaphore(self._DROP_PARALLELISM)

        async def drop_one(name: str) -> None:
            async with gate:
                await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

        await asyncio.gather(*(drop_one(name) for name in names), return_exceptions=True)

    def close(self) -> None:
        for ahead in self._ahead.values():
            with contextlib.suppress(Exception):
                self.drop(ahead.result())
        self._creator.shutdown(wait=True)
        if self._template is not None:
            with contextlib.suppress(Exception):
                self.drop(self._template.result())
        self._dropper.shutdown(wait=True)


_pg_databases: _PgDatabases | None = None


@pytest.fixture(scope="session", autouse=True)
def _pg_database_pool() -> Iterator[None]:
    yield
    if _pg_databases is not None:
        _pg_databases.close()


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
async def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[str]:
    """A fresh database for this test, as a DATABASE_URL (empty; see the module doc)."""
    global _pg_databases
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'leakbot.db'}"
        return
    await _check_pg_reachable()
    if _pg_databases is None:
        _pg_databases = _PgDatabases()
    pending = _pg_databases.take(migrated="store" in request.fixturenames)
    name = await asyncio.wrap_future(pending)
    try:
        yield _pg_url(name)
    finally:
        _pg_databases.drop(name)


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
