"""The facade's public transactions: `Store.write(work)` runs store functions of several
modules in one transaction, `Store.read()` gives a read connection, and a transient failure
(a serialisation failure / deadlock on PostgreSQL) is retried while other errors are not."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

import asyncpg
import pytest
from db_reads import job_claimed_by
from sqlalchemy import make_url, select, text
from sqlalchemy.exc import DBAPIError

from bot.store import NewIncident, OutboxMessage, Store, events_jobs, incidents, outbox
from bot.store.aio import AsyncConnection
from bot.store.tables import incidents as incidents_table

T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
Factory = Callable[..., NewIncident]
MESSAGE = OutboxMessage("note", "chat.postMessage", {"channel": "C1", "text": "hi"})


class Abort(Exception):
    pass


async def _incident_with_claim(conn: AsyncConnection, new: NewIncident) -> str:
    record = await incidents.create_incident(conn, new, now=T0, outbox=(), tasks=(), actor_id=None)
    await outbox.enqueue(conn, [MESSAGE], now=T0, incident_id=record.id)
    assert await events_jobs.claim_job(conn, f"job:{record.id}", owner="test", now=T0)
    return record.id


async def test_one_write_spans_several_modules(store: Store, make_new: Factory) -> None:
    async def work(conn: AsyncConnection) -> str:
        return await _incident_with_claim(conn, make_new())

    incident_id = await store.write(work)
    assert [i.id for i in await store.list_incidents()] == [incident_id]
    assert [item.kind for item in await store.outbox_items(incident_id)] == ["note"]
    assert not await store.claim_job(f"job:{incident_id}", owner="other", now=T0)
    assert [a.action for a in await store.audit_trail(incident_id)] == ["incident.created"]
    async with store.read() as conn:
        ids = (await conn.execute(select(incidents_table.c.id))).scalars().all()
    assert ids == [incident_id]


async def test_a_failing_write_leaves_nothing_of_any_module(
    store: Store, make_new: Factory
) -> None:
    async def work(conn: AsyncConnection) -> str:
        await _incident_with_claim(conn, make_new())
        raise Abort

    with pytest.raises(Abort):
        await store.write(work)
    assert await store.list_incidents() == []
    assert await store.outbox_items() == []
    assert await store.audit_head() == (0, "0" * 64)
    assert await job_claimed_by(store, "job:LEAK-2026-0001") is None
    # the incident number was given back
    again = await store.write(lambda conn: _incident_with_claim(conn, make_new()))
    assert again == "LEAK-2026-0001"


async def test_a_serialisation_failure_is_retried(store: Store) -> None:
    if store.dialect != "postgresql":
        pytest.skip("SQLite reports a held write lock only after its 5 s busy timeout")
    attempts: list[int] = []

    async def flaky(conn: AsyncConnection) -> str:
        attempts.append(len(attempts) + 1)
        if len(attempts) == 1:
            await conn.execute(
                text(
                    "DO $$ BEGIN RAISE EXCEPTION 'conflict' "
                    "USING ERRCODE = 'serialization_failure'; END $$"
                )
            )
        return "done"

    assert await store.write(flaky) == "done"
    assert attempts == [1, 2]


async def test_other_errors_are_not_retried(store: Store) -> None:
    attempts: list[int] = []

    async def failing(conn: AsyncConnection) -> None:
        attempts.append(1)
        await conn.execute(text("SELECT * FROM no_such_table"))

    with pytest.raises(DBAPIError):
        await store.write(failing)
    assert attempts == [1]


async def test_three_connections_at_most_on_both_databases(store: Store) -> None:
    """A pool of 3 and no overflow (bot/store/engine.py): on SQLite each connection is a thread
    with its own memory, so a burst must queue rather than open more."""
    held = asyncio.Event()
    release = asyncio.Event()
    holding = 0

    async def hold() -> None:
        nonlocal holding
        async with store.read() as conn:
            await conn.execute(select(1))
            holding += 1
            if holding == 3:
                held.set()
            await release.wait()

    holders = [asyncio.create_task(hold()) for _ in range(3)]
    await asyncio.wait_for(held.wait(), timeout=10)
    fourth = asyncio.create_task(store.ping(timeout=5))
    await asyncio.sleep(0.3)
    assert not fourth.done()  # waiting for one of the three
    release.set()
    await asyncio.gather(*holders)
    assert await asyncio.wait_for(fourth, timeout=10)


async def test_postgres_connections_in_use_are_not_pinged_idle_ones_are(
    store: Store, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check before a pooled connection is used (engine._install_pg_hooks): no round trip
    for a connection used moments ago, a ping after PG_PING_AFTER_IDLE_SECONDS; a connection the
    server closed is replaced either way (tests/e2e/test_faults_inprocess.py cuts them all)."""
    if store.dialect != "postgresql":
        pytest.skip("SQLite has no server connection to ping")
    from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection

    from bot.store import engine as engine_module

    pings: list[int] = []
    original = AsyncAdapt_asyncpg_connection.ping

    def counting(self: AsyncAdapt_asyncpg_connection) -> None:
        pings.append(1)
        original(self)

    monkeypatch.setattr(AsyncAdapt_asyncpg_connection, "ping", counting)

    async def backend(conn: AsyncConnection) -> int:
        return int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())

    first = await store.write(backend)
    for _ in range(3):
        assert await store.write(backend) == first  # the same pooled connection
    assert pings == []
    monkeypatch.setattr(engine_module, "PG_PING_AFTER_IDLE_SECONDS", 0.0)
    assert await store.write(backend) == first
    assert pings == [1]
    # Closed by the server while in the pool (used moments ago, so not pinged): replaced, the
    # write does not see it.
    monkeypatch.setattr(engine_module, "PG_PING_AFTER_IDLE_SECONDS", 30.0)
    admin = await asyncpg.connect(
        make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    )
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1, 5000)", first)
    finally:
        await admin.close()
    for _ in range(100):  # until the event loop has read the server's goodbye
        await asyncio.sleep(0)
    replaced = await store.write(backend)
    assert replaced != first
    assert pings == [1]
