"""The engine and its transactions: one `Database` per process, for SQLite and PostgreSQL.

- SQLite: WAL, busy_timeout 5 s, foreign keys on, a page cache of 512 KiB per connection; write
  transactions start with BEGIN IMMEDIATE, so concurrent writers (also from other processes)
  queue for the write lock instead of failing on a lock upgrade; read-only work uses a plain
  (deferred) BEGIN; a pool of 3 connections per process.
- PostgreSQL: writes in READ COMMITTED transactions, reads as single autocommit statements (the
  same snapshot rules, two round trips fewer); a pool of 3 connections per process.
- A deadlock / serialisation failure (or SQLite's busy / locked) is retried.

The store modules are functions of an `AsyncConnection`; `Database.write(work)` runs `work` in one
transaction, so one write can span several modules (incident + tasks + outbox + audit).
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, Final, Self, TypeVar

from sqlalchemy import event, literal, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, InvalidatePoolError, OperationalError

from .aio import AsyncConnection, AsyncEngine, create_async_engine
from .common import dumps
from .migrate import read_status, upgrade_in_child, upgrade_to_head
from .records import MigrationStatus
from .urls import display_url, resolve_database_url

__all__ = ["SQLITE_BUSY_TIMEOUT_MS", "Database", "create_engine"]

T = TypeVar("T")

SQLITE_BUSY_TIMEOUT_MS: Final[int] = 5000
# Each pooled SQLite connection's page cache, in KiB (SQLite's default is 2,000). The cache is
# malloc'd memory of the process, one per connection: after a restart on 300 pending incidents the
# first minute pass filled all three to ~2 MB each with the same rows (RSS 80.6 MB; 78.5 with 512,
# bench/README.md "Issue 14, rss4"). A page not cached is read again from the OS's file cache.
SQLITE_CACHE_KIB: Final[int] = 512
_READ_ONLY: Final[str] = "leakbot_read_only"
# A write transaction of one statement (Database.write_one).
_ONE_STATEMENT: Final[str] = "leakbot_one_statement"
_TRANSIENT_PG_STATES: Final[frozenset[str]] = frozenset({"40001", "40P01"})
_MAX_TX_ATTEMPTS: Final[int] = 4
# A PostgreSQL connection idle this long is pinged before use (_install_pg_hooks).
PG_PING_AFTER_IDLE_SECONDS: Final[float] = 30.0
_LAST_USED: Final[str] = "leakbot_last_used"


def create_engine(url: str, *, echo: bool) -> AsyncEngine:
    if url.startswith("postgresql"):
        pg = create_async_engine(
            url,
            echo=echo,
            # Connections idle in autocommit: reads need no BEGIN/ROLLBACK (under READ COMMITTED
            # each statement has its own snapshot anyway) and the ping is one round trip
            # instead of three. Writers get READ COMMITTED transactions (Database._writer).
            isolation_level="AUTOCOMMIT",
            # Few connections on purpose: they bound how much background work (the outbox, the
            # work after an ack) runs at once on the event loop. With 5 + 10 a burst of clicks
            # let that work crowd out the next acks (approval p99 1.7x a bare Bolt app at c=1);
            # with 3 it is 1.3x, and 1.05x at c=32 (bench/ack_latency.py). Nothing holds one
            # connection while waiting for another, so a small pool cannot deadlock.
            pool_size=3,
            max_overflow=0,
            # Not pool_pre_ping (a round trip at every checkout): _install_pg_hooks.
            pool_recycle=1800,
            # Errors must not carry typed content (descriptions, partners) into logs.
            hide_parameters=True,
            json_serializer=dumps,
            connect_args={"server_settings": {"application_name": "leakbot"}},
        )
        _install_pg_hooks(pg)
        return pg
    # Imported here: on PostgreSQL neither aiosqlite nor SQLAlchemy's SQLite dialect is loaded
    # (~0.6 MB RSS, tests/unit/test_lazy_imports.py).
    from .sqlite_driver import dbapi as sqlite_dbapi

    engine = create_async_engine(
        url,
        # SQLAlchemy's aiosqlite dialect with one trip to the driver's thread per statement.
        module=sqlite_dbapi(),
        echo=echo,
        # As on PostgreSQL, 3 connections and no overflow (SQLAlchemy's default is 5 + 10). Each
        # aiosqlite connection is a thread with its own malloc arena, page cache and copy of the
        # schema: the 5 that the first jobs after start opened held ~0.8 MB more than 3, and
        # a burst could open 15. Writers queue on one lock anyway (`Database._write_gate`).
        pool_size=3,
        max_overflow=0,
        hide_parameters=True,
        json_serializer=dumps,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
    )
    _install_sqlite_hooks(engine)
    return engine


def _install_pg_hooks(engine: AsyncEngine) -> None:
    """A pooled connection is checked before use, as pool_pre_ping would, without its round trip
    when the connection was in use moments ago (every transaction of a click and its deliveries
    paid one: bench/README.md, "ackcpu, third pass").

    - Closed by the server (a restart, pg_terminate_backend, idle_session_timeout): the server's
      goodbye was read by the event loop already, so asyncpg knows without asking.
    - Idle PG_PING_AFTER_IDLE_SECONDS or longer: pinged, as pool_pre_ping does (a connection
      dropped on the way without a word shows only when used).

    Either failure invalidates the pool (as a failed pre-ping does): the pool connects afresh.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(_dbapi_connection: Any, record: Any) -> None:
        record.info[_LAST_USED] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info[_LAST_USED] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if dbapi_connection.driver_connection.is_closed():
            raise InvalidatePoolError("connection closed by the server")
        idle = time.monotonic() - record.info.get(_LAST_USED, 0.0)
        if idle < PG_PING_AFTER_IDLE_SECONDS:
            return
        dialect = engine.dialect
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            if dialect.is_disconnect(exc, dbapi_connection, None):
                raise InvalidatePoolError("ping failed") from exc
            raise


def _set_wal(cursor: Any) -> None:
    """PRAGMA journal_mode = WAL, which needs the file to itself: while another process creates
    or migrates a new database SQLite answers "database is locked" at once, without its busy
    handler, so wait here (on the driver's thread) up to the busy timeout."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.05)


def _install_sqlite_hooks(engine: AsyncEngine) -> None:
    """WAL + busy_timeout + foreign keys, and our own BEGIN (IMMEDIATE for writers).

    SQLAlchemy's "Serializable isolation / savepoints" recipe: the driver's own transaction
    handling is switched off (isolation_level=None) and the "begin" event emits BEGIN itself.
    """
    from .sqlite_driver import LazyBegin

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            _set_wal(cursor)
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        options = conn.get_execution_options()
        statement = "BEGIN" if options.get(_READ_ONLY, False) else "BEGIN IMMEDIATE"
        adapted = conn.connection.dbapi_connection
        if isinstance(adapted, LazyBegin):  # with the first statement, in its trip
            adapted.begin_with_next(statement, alone=bool(options.get(_ONE_STATEMENT, False)))
        else:
            conn.exec_driver_sql(statement)


def commit_with_next(conn: AsyncConnection) -> None:
    """The write transaction's next statement is its last: on SQLite its COMMIT goes to the
    driver's thread in the same trip (a trip less per transaction); on PostgreSQL nothing changes
    (the transaction commits when it ends). A statement after it raises. Only where nothing after
    it may undo the transaction: on SQLite an exception raised later by `work` no longer rolls
    it back (so not in `append_audit`, whose callers may still fail after it)."""
    if conn.dialect.name != "sqlite":
        return
    from .sqlite_driver import LazyBegin  # (PostgreSQL never loads the SQLite driver)

    adapted = conn.sync_connection.connection.dbapi_connection
    if isinstance(adapted, LazyBegin):
        adapted.commit_with_next()


class Database:
    """An engine with leakbot's transaction rules. Open with `await Database.open(url)` (the
    `Store` facade extends it); `await close()` at the end."""

    def __init__(self, engine: AsyncEngine, *, url: str | None = None) -> None:
        self._engine = engine
        self._pg = engine.dialect.name == "postgresql"
        # On PostgreSQL the engine is in autocommit (see create_engine): writers and the
        # migrations get real transactions here. SQLite readers keep their deferred BEGIN: in
        # WAL mode it gives them one snapshot.
        self._writer = (
            engine.execution_options(isolation_level="READ COMMITTED") if self._pg else engine
        )
        self._reader = engine.execution_options(**{_READ_ONLY: True})
        self._writer_one = (
            self._writer if self._pg else engine.execution_options(**{_ONE_STATEMENT: True})
        )
        self._url = url or engine.url.render_as_string(hide_password=False)
        # SQLite has one writer at a time anyway: queue this process's writers here (FIFO, no
        # busy-polling); other processes still wait in BEGIN IMMEDIATE through busy_timeout.
        self._write_gate: asyncio.Lock | None = None if self._pg else asyncio.Lock()

    # -- lifecycle ------------------------------------------------------------------------------

    @classmethod
    async def open(
        cls,
        url: str | None = None,
        *,
        migrate: bool = True,
        echo: bool = False,
        migrate_in_child: bool = False,
    ) -> Self:
        """Connect (DATABASE_URL syntax; None: the default SQLite file) and apply migrations
        (`migrate_in_child`: in a child process, see `upgrade_in_child`)."""
        resolved = resolve_database_url(url)
        engine = create_engine(resolved, echo=echo)
        database = cls(engine, url=resolved)
        try:
            if migrate and migrate_in_child:
                await upgrade_in_child(database._reader, resolved)
            elif migrate:
                await upgrade_to_head(database._writer)
        except BaseException:
            await engine.dispose()
            raise
        return database

    async def close(self) -> None:
        await self._engine.dispose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def dialect(self) -> str:
        """'sqlite' or 'postgresql'."""
        return self._engine.dialect.name

    @property
    def url(self) -> str:
        """The database URL with the password hidden."""
        return display_url(self._url)

    async def ping(self, *, timeout: float = 2.0) -> bool:
        """True when the database answers (for /healthz)."""
        try:
            async with asyncio.timeout(timeout), self.read() as conn:
                await conn.execute(select(literal(1)))
        except Exception:
            return False
        return True

    async def migration_status(self) -> MigrationStatus:
        """(current revision or None, head revision) — for a doctor command."""
        return await read_status(self._reader)

    # -- transactions ---------------------------------------------------------------------------

    def _transient(self, exc: DBAPIError) -> bool:
        if self._pg:
            return getattr(exc.orig, "sqlstate", None) in _TRANSIENT_PG_STATES
        message = str(exc.orig).lower()
        return isinstance(exc, OperationalError) and ("locked" in message or "busy" in message)

    async def write(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run `work` in one write transaction (retried on deadlock / lock timeout, so `work`
        must not have effects outside the database)."""
        return await self._write_on(self._writer, work)

    async def write_one(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """`write` for `work` that runs exactly one statement (e.g. the outbox's claim). On
        SQLite its BEGIN IMMEDIATE, the statement and the COMMIT go to the driver's thread in one
        trip instead of two; a second statement raises (it would run outside the transaction)."""
        return await self._write_on(self._writer_one, work)

    async def _write_on(
        self, engine: AsyncEngine, work: Callable[[AsyncConnection], Awaitable[T]]
    ) -> T:
        attempt = 0
        while True:
            attempt += 1
            try:
                async with self._gate(), engine.begin() as conn:
                    return await work(conn)
            except DBAPIError as exc:
                if attempt >= _MAX_TX_ATTEMPTS or not self._transient(exc):
                    raise
            await asyncio.sleep(random.uniform(0.01, 0.05) * attempt)

    @asynccontextmanager
    async def _gate(self) -> AsyncIterator[None]:
        if self._write_gate is None:
            yield
        else:
            async with self._write_gate:
                yield

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads: autocommit statements on PostgreSQL, one deferred (snapshot)
        transaction on SQLite. Do not write through it."""
        async with self._reader.connect() as conn:
            yield conn
