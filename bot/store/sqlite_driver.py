"""SQLAlchemy's aiosqlite adapter with one trip to the driver's thread per statement.

Why: aiosqlite runs every call on its connection's own thread and wakes the event loop with the
answer. SQLAlchemy's adapter makes four such trips per statement (open a cursor, execute, fetch
the rows, close the cursor) and one more to roll back a connection that has no transaction when
it goes back to the pool. Each trip costs a queue hand-off, a thread wake-up, a wake-up of the
event loop through its self-pipe and a greenlet switch: on an approval click (45 statements,
12 transactions) that was ~10 ms of CPU more than the same work on PostgreSQL
(bench/README.md, "ackcpu, third pass").

How: the statement runs start to end in one function on that thread (cursor, execute, rows,
description, rowcount, lastrowid, close) and the adapter keeps what it returned, as
`AsyncAdapt_dbapi_cursor` keeps the rows it fetched. A transaction's BEGIN goes in the same trip
as its first statement (`begin_with_next`, from the engine's "begin" hook). A commit or rollback
with no transaction open is a no-op in sqlite3 itself (it checks the same flag), so it is skipped
without the trip. A write's last statement can carry its COMMIT too (`commit_with_next`). The
dialect, its URL (`sqlite+aiosqlite://`), types and pool are SQLAlchemy's; only the DB-API module
it is given changes (`create_engine(..., module=dbapi())`). Uses aiosqlite's `_execute` and
`_conn`, as SQLAlchemy's own adapter does; tests/store/test_store_sqlite_driver.py pins it.
"""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Sequence
from typing import Any

import aiosqlite
from sqlalchemy.connectors.asyncio import AsyncAdapt_dbapi_connection
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

__all__ = ["LazyBegin", "dbapi"]

# What one statement leaves behind: description, rows (None without a result), rowcount,
# lastrowid.
_Outcome = tuple[Any, list[Any] | None, int, int | None]


def _run(
    conn: aiosqlite.Connection,
    begin: str | None,
    operation: str,
    parameters: Any,
    many: bool,
    commit: bool,
) -> _Outcome:
    """On the connection's thread: the transaction's BEGIN if it is still to come, then the whole
    statement, its cursor closed before returning; with `commit` (the transaction's last
    statement), its COMMIT too."""
    if begin is not None:
        conn._conn.execute(begin).close()
    cursor = conn._conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else None
        outcome = description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()
    if commit:
        conn._conn.commit()
    return outcome


class _Cursor(AsyncAdapt_aiosqlite_cursor):
    """A cursor whose statement ran in one trip: it holds no driver cursor, only the outcome."""

    __slots__ = ("_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: AsyncAdapt_dbapi_connection) -> None:
        # Not the base __init__: that opens a driver cursor (a trip of its own).
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid  # type: ignore[return-value]

    @property
    def arraysize(self) -> int:
        return 1

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        pass  # rows are all fetched at once: nothing to size

    def _run(self, operation: Any, parameters: Any, many: bool) -> None:
        adapted = self._adapt_connection
        begin: str | None = None
        commit = False
        if isinstance(adapted, _Connection):
            if adapted._committed:
                raise RuntimeError("a statement after its transaction's last one (commit_with)")
            if adapted._begin is not None:
                begin, adapted._begin = adapted._begin, None
            commit, adapted._commit_next = adapted._commit_next, False
        try:
            outcome: _Outcome = await_(
                self._connection._execute(
                    _run, self._connection, begin, operation, parameters, many, commit
                )
            )
        except Exception as error:
            if isinstance(adapted, _Connection) and begin is not None and adapted._idle():
                # The BEGIN failed (e.g. the write lock stayed busy): the transaction has not
                # started, and the next statement tries again; none runs outside it.
                adapted._begin = begin
            self._adapt_connection._handle_exception(error)
        if isinstance(adapted, _Connection):
            adapted._committed = commit  # committed in the trip: the transaction is over
        self._description, rows, self._rowcount, self._lastrowid = outcome
        self._rows = collections.deque(rows) if rows is not None else collections.deque()

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        self._run(operation, parameters, False)

    def executemany(self, operation: Any, seq_of_parameters: Sequence[Any]) -> Any:
        self._run(operation, seq_of_parameters, True)

    async def _async_soft_close(self) -> None:
        return None  # the driver's cursor is closed already

    def close(self) -> None:
        self._rows.clear()

    def setinputsizes(self, *inputsizes: Any) -> None:
        return None  # sqlite3's is a no-op too

    def nextset(self) -> None:
        raise NotImplementedError("sqlite3 has one result set per statement")


class _Connection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("_begin", "_commit_next", "_committed")

    _cursor_cls = _Cursor

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self._begin: str | None = None
        # The next statement is the transaction's last (its COMMIT goes in the same trip), and
        # such a statement ran: the transaction is over.
        self._commit_next = False
        self._committed = False

    def cursor(self, server_side: bool = False) -> Any:
        if server_side and self._begin is not None:
            # A server-side cursor makes trips of its own: the BEGIN goes first, alone.
            begin, self._begin = self._begin, None
            try:
                await_(self._connection._execute(self._connection._conn.execute, begin))
            except Exception as error:
                self._begin = begin
                self._handle_exception(error)
        return super().cursor(server_side)

    def begin_with_next(self, statement: str, *, alone: bool = False) -> None:
        """Start the transaction with `statement` (BEGIN, BEGIN IMMEDIATE) in the same trip as
        its first statement, not a trip of its own. A transaction without statements never
        starts (its commit or rollback has nothing to end). `alone`: the transaction is that one
        statement, committed in the same trip too (`Database.write_one`)."""
        self._begin = statement
        self._commit_next = alone
        self._committed = False

    def commit_with_next(self) -> None:
        """The next statement is the transaction's last: its COMMIT goes in the same trip, and
        the transaction's own commit has nothing left to do. A statement after it raises (it
        would run outside the transaction); one that fails leaves the transaction open, to be
        rolled back."""
        self._commit_next = True

    def _idle(self) -> bool:
        """No transaction open: sqlite3's commit and rollback would do nothing. Reading the flag
        needs no trip (aiosqlite's own `in_transaction` reads it from the event loop's thread
        too)."""
        self._begin = None
        self._commit_next = self._committed = False
        connection = self._connection._connection
        return connection is not None and not connection.in_transaction

    def commit(self) -> None:
        if not self._idle():
            super().commit()

    def rollback(self) -> None:
        if not self._idle():
            super().rollback()


class _DBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> _Connection:
        adapted = super().connect(*arg, **kw)
        return _Connection(self, adapted._connection)


def dbapi() -> _DBAPI:
    """The DB-API module to give `create_engine(..., module=...)` for `sqlite+aiosqlite` URLs."""
    return _DBAPI(aiosqlite, sqlite3)


# The adapter's type, for the engine's "begin" hook (bot/store/engine.py).
LazyBegin = _Connection
