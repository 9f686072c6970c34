"""bot/store/sqlite_driver.py: SQLAlchemy's aiosqlite adapter with one trip to the driver's
thread per statement. The same results as SQLAlchemy's own adapter (rows, row counts, keys,
RETURNING, executemany, errors); one trip per statement, none for the pool's rollback of a
connection with no transaction, and a rollback inside one still undoes it."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.pool import NullPool

from bot.store.aio import AsyncEngine, create_async_engine
from bot.store.engine import Database, commit_with_next
from bot.store.sqlite_driver import dbapi
from tests.store.test_store_aio import _statements, items, metadata  # the same table


class Trips:
    """Functions aiosqlite ran on its connections' threads while counting."""

    def __init__(self) -> None:
        self.count = 0


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> Iterator[Trips]:
    counted = Trips()
    original = aiosqlite.Connection._execute

    async def counting(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        counted.count += 1
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counting)
    yield counted


def _url(tmp_path: Path, name: str) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / name}"


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(_url(tmp_path, "one.db"), module=dbapi())
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


async def _more_statements(engine: AsyncEngine) -> list[Any]:
    """What the store relies on besides `_statements`: RETURNING (also of several rows, SQLAlchemy's
    insertmanyvalues), an UPDATE's row count, an empty result, a lock error's type."""
    out: list[Any] = []
    async with engine.begin() as conn:
        returned = await conn.execute(
            insert(items).returning(items.c.id, items.c.name),
            [{"name": "r1"}, {"name": "r2"}, {"name": "r3"}],
        )
        out.append([tuple(row) for row in returned])
        changed = await conn.execute(
            update(items).where(items.c.name.in_(["r1", "r3"])).values(name=items.c.name + "x")
        )
        out.append(changed.rowcount)
        renamed = await conn.execute(
            update(items).where(items.c.name == "r2").values(name="r2y").returning(items.c.id)
        )
        out.append(renamed.scalar_one())
        none = await conn.execute(select(items.c.id).where(items.c.name == "nobody"))
        out.append(none.all())
    with pytest.raises(OperationalError) as caught:
        async with engine.connect() as conn:
            await conn.exec_driver_sql("SELECT * FROM no_such_table")
    out.append(type(caught.value.orig).__name__)
    return out


async def test_same_results_as_sqlalchemys_aiosqlite_adapter(tmp_path: Path) -> None:
    ours = create_async_engine(_url(tmp_path, "ours.db"), module=dbapi(), poolclass=NullPool)
    theirs = create_async_engine(_url(tmp_path, "theirs.db"), poolclass=NullPool)
    assert type(ours.dialect) is type(theirs.dialect)
    assert type(ours.dialect.dbapi) is not type(theirs.dialect.dbapi)
    results = []
    try:
        for engine in (ours, theirs):
            async with engine.begin() as conn:
                await conn.run_sync(metadata.create_all)
            async with engine.connect() as conn:
                first = await _statements(conn)
                await conn.commit()
            results.append((first, await _more_statements(engine)))
    finally:
        await ours.dispose()
        await theirs.dispose()
    assert results[0] == results[1]
    first, more = results[0]
    assert first[0] == 2 and first[2] == [(1, "a"), (2, "b"), (3, "c")]
    assert first[-1] == "IntegrityError"
    assert [name for _, name in more[0]] == ["r1", "r2", "r3"]
    assert more[1:4] == [2, more[0][1][0], []]
    assert more[4] == "OperationalError"


async def test_one_trip_per_statement_and_none_for_an_idle_rollback(
    engine: AsyncEngine, trips: Trips
) -> None:
    async with engine.connect() as conn:  # a pooled connection: connecting costs no trip
        trips.count = 0
        await conn.execute(insert(items), [{"name": "a"}, {"name": "b"}])  # executemany
        await conn.execute(select(items.c.name).order_by(items.c.id))
        await conn.exec_driver_sql("SELECT count(*) FROM aio_items")
        assert trips.count == 3
        await conn.commit()
        assert trips.count == 4
    # Back in the pool after the commit: the pool's rollback found no transaction, no trip.
    assert trips.count == 4


async def test_a_rollback_inside_a_transaction_still_rolls_back(
    engine: AsyncEngine, trips: Trips
) -> None:
    async with engine.connect() as conn:
        await conn.execute(insert(items).values(name="kept"))
        await conn.commit()
        await conn.execute(insert(items).values(name="undone"))
        before = trips.count
        await conn.rollback()
        assert trips.count == before + 1
    with pytest.raises(IntegrityError):
        async with engine.begin() as conn:
            await conn.execute(insert(items).values(name="kept"))
    async with engine.connect() as conn:
        names = (await conn.execute(select(items.c.name))).scalars().all()
        # And a connection returned with a transaction open is rolled back by the pool.
        await conn.execute(insert(items).values(name="returned open"))
    async with engine.connect() as conn:
        assert (await conn.execute(select(items.c.name))).scalars().all() == ["kept"]
    assert names == ["kept"]


async def test_the_store_uses_it(tmp_path: Path, trips: Trips) -> None:
    database = await Database.open(_url(tmp_path, "store.db"))
    try:
        assert isinstance(database._engine.dialect.dbapi, type(dbapi()))
        async with database._engine.connect():  # a connection in the pool
            pass
        trips.count = 0
        await database.write(lambda conn: conn.exec_driver_sql("SELECT 1"))
        # BEGIN IMMEDIATE with the statement, then COMMIT; no rollback on return.
        assert trips.count == 2

        async def nothing(_conn: Any) -> None:
            return None

        await database.write(nothing)  # a transaction without statements never starts
        assert trips.count == 2
    finally:
        await database.close()


async def test_a_write_holds_the_write_lock_from_its_first_statement(tmp_path: Path) -> None:
    """BEGIN IMMEDIATE, sent with the transaction's first statement: after a mere SELECT the
    write lock is held (a deferred BEGIN would not take it), so another writer must wait."""
    path = tmp_path / "lock.db"
    database = await Database.open(f"sqlite+aiosqlite:///{path}")
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:

        async def select_then_try_other(conn: Any) -> str:
            await conn.exec_driver_sql("SELECT 1")
            try:
                other.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                return str(exc)
            other.execute("ROLLBACK")
            return "not locked"

        assert await database.write(select_then_try_other) == "database is locked"
        other.execute("BEGIN IMMEDIATE")  # free again after the commit
        other.execute("ROLLBACK")
        async with database.read() as conn:  # a reader's deferred BEGIN takes no write lock
            await conn.exec_driver_sql("SELECT 1")
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
    finally:
        other.close()
        await database.close()


async def test_a_failed_begin_is_tried_again_and_no_statement_runs_outside_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The BEGIN travels with the first statement, so its failure (the write lock held by
    another process, here at once: no busy timeout) is that statement's. Work that catches it
    and goes on must not run its next statements outside a transaction: they begin it again."""
    from bot.store import engine as engine_module

    monkeypatch.setattr(engine_module, "SQLITE_BUSY_TIMEOUT_MS", 0)
    path = tmp_path / "busy.db"
    database = await Database.open(f"sqlite+aiosqlite:///{path}")
    holder = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        await database.write(lambda conn: conn.exec_driver_sql("CREATE TABLE t (x TEXT)"))
        holder.execute("BEGIN IMMEDIATE")
        failures: list[str] = []

        async def work(conn: Any) -> bool:
            try:
                await conn.exec_driver_sql("INSERT INTO t VALUES ('x')")
            except OperationalError as exc:
                failures.append(str(exc.orig))
                holder.execute("ROLLBACK")  # the lock is free now
            await conn.exec_driver_sql("INSERT INTO t VALUES ('y')")
            raw = await conn.get_raw_connection()
            return bool(raw.driver_connection.in_transaction)

        assert await database.write(work) is True
        assert failures == ["database is locked"]
        async with database.read() as conn:
            rows = (await conn.exec_driver_sql("SELECT x FROM t")).scalars().all()
        assert rows == ["y"]
    finally:
        holder.close()
        await database.close()


async def test_a_server_side_cursor_first_still_begins_the_transaction(tmp_path: Path) -> None:
    """A streamed result (server-side cursor: trips of its own) as a transaction's first
    statement: its BEGIN is sent before it, alone."""
    database = await Database.open(_url(tmp_path, "stream.db"))
    try:
        await database.write(lambda conn: conn.exec_driver_sql("CREATE TABLE t (x TEXT)"))
        await database.write(lambda conn: conn.exec_driver_sql("INSERT INTO t VALUES ('a')"))

        def streamed(sync: Any) -> tuple[list[str], bool]:
            result = sync.execution_options(stream_results=True).exec_driver_sql("SELECT x FROM t")
            rows = [str(row[0]) for row in result]
            return rows, bool(sync.connection.driver_connection.in_transaction)

        async def work(conn: Any) -> tuple[list[str], bool]:
            return await conn.run_sync(streamed)  # type: ignore[no-any-return]

        assert await database.write(work) == (["a"], True)
    finally:
        await database.close()


async def test_write_one_commits_in_the_statements_trip(tmp_path: Path, trips: Trips) -> None:
    database = await Database.open(_url(tmp_path, "store.db"))
    try:
        await database.write(
            lambda conn: conn.exec_driver_sql("CREATE TABLE one (x INTEGER UNIQUE)")
        )
        trips.count = 0
        inserted = await database.write_one(
            lambda conn: conn.exec_driver_sql("INSERT INTO one VALUES (1) RETURNING x")
        )
        assert inserted.scalar_one() == 1
        # BEGIN IMMEDIATE, the statement and COMMIT in one trip; nothing on return to the pool.
        assert trips.count == 1
        async with database.read() as conn:
            assert (await conn.exec_driver_sql("SELECT x FROM one")).scalars().all() == [1]
        # A failing statement is rolled back, and the connection serves the next write.
        with pytest.raises(IntegrityError):
            await database.write_one(
                lambda conn: conn.exec_driver_sql("INSERT INTO one VALUES (1)")
            )

        async def two(conn: Any) -> None:
            await conn.exec_driver_sql("INSERT INTO one VALUES (2)")
            await conn.exec_driver_sql("INSERT INTO one VALUES (3)")

        # A second statement would run outside the (committed) transaction: refused.
        with pytest.raises(RuntimeError, match="after its transaction's last"):
            await database.write_one(two)
        await database.write(lambda conn: conn.exec_driver_sql("INSERT INTO one VALUES (4)"))
        async with database.read() as conn:
            rows = (await conn.exec_driver_sql("SELECT x FROM one ORDER BY x")).scalars().all()
        assert rows == [1, 2, 4]
    finally:
        await database.close()


async def test_commit_with_next_commits_in_the_last_statements_trip(
    tmp_path: Path, trips: Trips
) -> None:
    database = await Database.open(_url(tmp_path, "store.db"))
    try:
        await database.write(lambda conn: conn.exec_driver_sql("CREATE TABLE two (x INTEGER)"))
        trips.count = 0

        async def both(conn: Any) -> None:
            await conn.exec_driver_sql("INSERT INTO two VALUES (1)")
            commit_with_next(conn)
            await conn.exec_driver_sql("INSERT INTO two VALUES (2)")

        await database.write(both)
        # BEGIN IMMEDIATE with the first statement, COMMIT with the second: two trips, not three.
        assert trips.count == 2

        async def then_another(conn: Any) -> None:
            await both(conn)
            await conn.exec_driver_sql("INSERT INTO two VALUES (3)")

        with pytest.raises(RuntimeError, match="after its transaction's last"):
            await database.write(then_another)
        async with database.read() as conn:
            rows = (await conn.exec_driver_sql("SELECT x FROM two ORDER BY x")).scalars().all()
        assert rows == [1, 1, 2, 2]  # the refused third never ran
    finally:
        await database.close()
