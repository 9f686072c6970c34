"""An asyncio face over SQLAlchemy Core's `Engine`, without `sqlalchemy.ext.asyncio`.

Why: that package's `__init__` imports its ORM session and so all of `sqlalchemy.orm` (~7.7 MB of
RSS and ~90 ms CPU at every start of `leakbot run`, bench/memory_startup.py), which leakbot never
uses: the store is Core only. No SQLAlchemy 2.1 module gives an `AsyncEngine` without that import.

How: the same mechanism as SQLAlchemy's own `AsyncEngine`, over public pieces. `create_engine()`
with an async driver's URL (`sqlite+aiosqlite`, `postgresql+asyncpg`) builds the same dialect and
pool `create_async_engine` does (`Dialect.get_async_dialect_cls` is `get_dialect_cls` for both
drivers); each sync Core call then runs in `greenlet_spawn`, inside which the driver's adapter
awaits. Results are buffered by the drivers' adapters, as with `AsyncConnection.execute`. Only
what leakbot, its tests and its benchmarks call is here; tests/store/test_store_aio.py pins it
against `sqlalchemy.ext.asyncio` and tests/unit/test_lazy_imports.py the import it saves.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from contextlib import asynccontextmanager
from functools import partial
from typing import Any, Concatenate, ParamSpec, TypeVar, TypeVarTuple, overload

from sqlalchemy import create_engine as _sync_create_engine
from sqlalchemy.engine import URL, Connection, CursorResult, Dialect, Engine
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.selectable import TypedReturnsRows
from sqlalchemy.util import greenlet_spawn

__all__ = ["AsyncConnection", "AsyncEngine", "create_async_engine"]

T = TypeVar("T")
P = ParamSpec("P")
Ts = TypeVarTuple("Ts")


async def _to_completion(coro: Coroutine[Any, Any, None]) -> None:
    """Run a clean-up (a connection's close, a transaction's end) to its end even when the caller
    is cancelled meanwhile, then re-raise the cancellation: abandoned halfway it would return the
    connection to the pool later, or never (as `sqlalchemy.ext.asyncio` does on exit)."""
    task = asyncio.ensure_future(coro)
    cancelled: asyncio.CancelledError | None = None
    while True:
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError as exc:
            if task.done():
                raise
            cancelled = exc
        else:
            break
    if cancelled is not None:
        raise cancelled


class AsyncConnection:
    """A checked-out connection: `await conn.execute(stmt)` returns a buffered result."""

    __slots__ = ("sync_connection",)

    def __init__(self, sync_connection: Connection) -> None:
        self.sync_connection = sync_connection

    @property
    def dialect(self) -> Dialect:
        return self.sync_connection.dialect

    def get_execution_options(self) -> Mapping[str, Any]:
        return self.sync_connection.get_execution_options()

    @overload
    async def execute(
        self,
        statement: TypedReturnsRows[*Ts],
        parameters: Any = None,
        *,
        execution_options: Mapping[str, Any] | None = None,
    ) -> CursorResult[*Ts]: ...

    @overload
    async def execute(
        self,
        statement: Executable,
        parameters: Any = None,
        *,
        execution_options: Mapping[str, Any] | None = None,
    ) -> CursorResult[*tuple[Any, ...]]: ...

    async def execute(
        self,
        statement: Executable,
        parameters: Any = None,
        *,
        execution_options: Mapping[str, Any] | None = None,
    ) -> CursorResult[*tuple[Any, ...]]:
        result: CursorResult[*tuple[Any, ...]] = await greenlet_spawn(
            self.sync_connection.execute,
            statement,
            parameters,
            execution_options=execution_options,
        )
        return result

    async def exec_driver_sql(
        self, statement: str, parameters: Any = None
    ) -> CursorResult[*tuple[Any, ...]]:
        result: CursorResult[*tuple[Any, ...]] = await greenlet_spawn(
            self.sync_connection.exec_driver_sql, statement, parameters
        )
        return result

    async def run_sync(
        self, fn: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """`fn(sync_connection, ...)` where the driver may await (Alembic, `inspect`)."""
        return await greenlet_spawn(partial(fn, self.sync_connection, *args, **kwargs))

    async def get_raw_connection(self) -> Any:
        """The pool's connection (its `driver_connection` is the aiosqlite / asyncpg one)."""
        return await greenlet_spawn(getattr, self.sync_connection, "connection")

    async def commit(self) -> None:
        await greenlet_spawn(self.sync_connection.commit)

    async def rollback(self) -> None:
        await greenlet_spawn(self.sync_connection.rollback)

    async def close(self) -> None:
        """Back to the pool (a transaction still open is rolled back)."""
        await greenlet_spawn(self.sync_connection.close)


class AsyncEngine:
    """A pool of connections; `connect()` and `begin()` are async context managers."""

    __slots__ = ("sync_engine",)

    def __init__(self, sync_engine: Engine) -> None:
        if not sync_engine.dialect.is_async:
            raise ValueError(f"{sync_engine.dialect.driver} is not an asyncio driver")
        self.sync_engine = sync_engine

    @property
    def dialect(self) -> Dialect:
        return self.sync_engine.dialect

    @property
    def url(self) -> URL:
        return self.sync_engine.url

    def execution_options(self, **options: Any) -> AsyncEngine:
        """A view of this engine (same pool) whose connections carry `options`."""
        return AsyncEngine(self.sync_engine.execution_options(**options))

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[AsyncConnection]:
        conn = AsyncConnection(await greenlet_spawn(self.sync_engine.connect))
        try:
            yield conn
        finally:
            await _to_completion(conn.close())

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        """A connection in a transaction: committed when the block ends, rolled back when it
        raises (also on cancellation)."""
        async with self.connect() as conn:
            transaction = await greenlet_spawn(conn.sync_connection.begin)
            try:
                yield conn
            except BaseException as exc:
                await _to_completion(
                    greenlet_spawn(transaction.__exit__, type(exc), exc, exc.__traceback__)
                )
                raise
            await greenlet_spawn(transaction.__exit__, None, None, None)

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await greenlet_spawn(self.sync_engine.dispose)


def create_async_engine(url: str | URL, **kwargs: Any) -> AsyncEngine:
    """`sqlalchemy.create_engine` for an asyncio driver's URL, wrapped (same arguments)."""
    return AsyncEngine(_sync_create_engine(url, **kwargs))
