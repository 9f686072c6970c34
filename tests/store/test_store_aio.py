"""bot/store/aio.py, leakbot's asyncio face over SQLAlchemy Core, against SQLAlchemy's own
`sqlalchemy.ext.asyncio` on the same database: the same rows, row counts, keys and errors; a
transaction committed at the end of `begin()`, rolled back when its block raises or is cancelled;
every connection back in the pool afterwards. (The store's own tests run on it throughout.)"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select, text
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext import asyncio as sa_asyncio
from sqlalchemy.pool import NullPool

from bot.store.aio import AsyncConnection, AsyncEngine, create_async_engine
from bot.store.urls import resolve_database_url

metadata = MetaData()
items = Table(
    "aio_items",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(50), nullable=False, unique=True),
)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(resolve_database_url(database_url))
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield engine
    async with engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
    await engine.dispose()


async def _count(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(items))).scalar_one())


def _checked_out(engine: AsyncEngine) -> int:
    return int(engine.sync_engine.pool.checkedout())  # type: ignore[attr-defined]


async def _statements(conn: Any) -> list[Any]:
    """The same statements through either connection type; what each returned."""
    out: list[Any] = []
    result = await conn.execute(insert(items), [{"name": "a"}, {"name": "b"}])
    out.append(result.rowcount)
    result = await conn.execute(insert(items).values(name="c"))
    out.append(tuple(result.inserted_primary_key))
    rows = await conn.execute(select(items.c.id, items.c.name).order_by(items.c.id))
    out.append([tuple(row) for row in rows])
    out.append((await conn.execute(select(items.c.name).where(items.c.id == 2))).scalar_one())
    mapped = await conn.execute(text("SELECT name FROM aio_items WHERE name > :n"), {"n": "a"})
    out.append(sorted(m["name"] for m in mapped.mappings()))
    driver = await conn.exec_driver_sql("SELECT count(*) FROM aio_items")
    out.append(driver.scalar_one())
    out.append(await conn.run_sync(lambda sync: sa_inspect(sync).has_table("aio_items")))
    with pytest.raises(IntegrityError) as caught:
        await conn.execute(insert(items).values(name="a"))
    out.append(type(caught.value.orig).__name__)
    return out


async def test_same_results_as_sqlalchemy_ext_asyncio(database_url: str) -> None:
    url = resolve_database_url(database_url)
    ours = create_async_engine(url, poolclass=NullPool)
    theirs = sa_asyncio.create_async_engine(url, poolclass=NullPool)
    results = []
    try:
        for engine in (ours, theirs):
            async with engine.begin() as conn:
                await conn.run_sync(metadata.create_all)
            async with engine.connect() as conn:
                results.append(await _statements(conn))
            async with engine.begin() as conn:
                await conn.run_sync(metadata.drop_all)
    finally:
        await ours.dispose()
        await theirs.dispose()
    assert results[0] == results[1]
    assert results[0][2] == [(1, "a"), (2, "b"), (3, "c")]  # (rowcount: 2, or -1 on asyncpg)
    assert ours.dialect.name == theirs.dialect.name
    assert type(ours.dialect) is type(theirs.dialect)  # the same driver adapter
    assert type(ours.sync_engine.pool) is type(theirs.sync_engine.pool)


async def test_begin_commits_and_rolls_back(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(insert(items).values(name="kept"))

    class Abort(Exception):
        pass

    with pytest.raises(Abort):
        async with engine.begin() as conn:
            await conn.execute(insert(items).values(name="undone"))
            raise Abort
    async with engine.connect() as conn:
        names = (await conn.execute(select(items.c.name))).scalars().all()
    assert names == ["kept"]
    assert _checked_out(engine) == 0


async def test_a_connection_without_commit_is_rolled_back_on_close(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(insert(items).values(name="never committed"))
    assert await _count(engine) == 0
    async with engine.connect() as conn:
        await conn.execute(insert(items).values(name="committed"))
        await conn.commit()
        await conn.execute(insert(items).values(name="rolled back"))
        await conn.rollback()
    assert await _count(engine) == 1


async def test_cancelled_block_rolls_back_and_returns_the_connection(engine: AsyncEngine) -> None:
    inside = asyncio.Event()

    async def work() -> None:
        async with engine.begin() as conn:
            await conn.execute(insert(items).values(name="cancelled"))
            inside.set()
            await asyncio.Event().wait()  # until cancelled

    task = asyncio.ensure_future(work())
    await inside.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert _checked_out(engine) == 0
    assert await _count(engine) == 0


async def test_execution_options_view_shares_the_pool(engine: AsyncEngine) -> None:
    view = engine.execution_options(leakbot_marker=True)
    assert view.sync_engine.pool is engine.sync_engine.pool
    async with view.connect() as conn:
        assert conn.get_execution_options()["leakbot_marker"] is True
        raw = await conn.get_raw_connection()
        assert raw.driver_connection is not None
    async with engine.connect() as conn:
        assert "leakbot_marker" not in conn.get_execution_options()


async def test_run_sync_passes_the_sync_connection(engine: AsyncEngine) -> None:
    def names(sync: Connection, prefix: str) -> list[str]:
        sync.execute(insert(items).values(name=f"{prefix}1"))
        return list(sync.execute(select(items.c.name)).scalars())

    async with engine.begin() as conn:
        assert isinstance(conn, AsyncConnection)
        assert await conn.run_sync(names, "x") == ["x1"]


def test_a_sync_driver_is_refused(tmp_path: Any) -> None:
    with pytest.raises(ValueError, match="pysqlite"):
        create_async_engine(f"sqlite:///{tmp_path / 'sync.db'}")
