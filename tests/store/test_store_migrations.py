"""Migrations: applied on open, idempotent, matching tables.py; connection settings."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from bot.store import MigrationStatus, Store
from bot.store.migrate import head_revision
from bot.store.tables import metadata

EXPECTED_TABLES = {
    "alembic_version",
    "approvals",
    "audit_log",
    "incident_counters",
    "incidents",
    "job_runs",
    "outbox",
    "processed_events",
    "tasks",
}


async def test_fresh_database_is_migrated_on_open(database_url: str) -> None:
    bare = await Store.open(database_url, migrate=False)
    try:
        assert await bare.migration_status() == MigrationStatus(None, head_revision())
        assert not (await bare.migration_status()).up_to_date
    finally:
        await bare.close()

    store = await Store.open(database_url)
    try:
        status = await store.migration_status()
        assert status.up_to_date
        assert tuple(status) == (head_revision(), head_revision())
        async with store._engine.connect() as conn:
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert tables >= EXPECTED_TABLES
    finally:
        await store.close()


async def test_reopening_is_idempotent_and_keeps_data(
    database_url: str, make_new: Any, t0: Any
) -> None:
    first = await Store.open(database_url)
    record, _ = await first.create_incident(make_new(), now=t0)
    await first.close()
    for _ in range(2):
        again = await Store.open(database_url)
        try:
            assert (await again.migration_status()).up_to_date
            assert await again.get_incident(record.id) == record
        finally:
            await again.close()


async def test_concurrent_opens_on_a_fresh_database(database_url: str) -> None:
    stores = await asyncio.gather(*(Store.open(database_url) for _ in range(3)))
    try:
        for s in stores:
            assert (await s.migration_status()).up_to_date
    finally:
        for s in stores:
            await s.close()


# Indexes the migrations create on PostgreSQL only, not declared in tables.py (their
# definitions use what SQLite lacks): the export's deadline tasks (0012).
POSTGRESQL_ONLY_INDEXES = {
    "ix_tasks_deadline_export": (
        "CREATE INDEX ix_tasks_deadline_export ON public.tasks USING btree "
        '(incident_id, ref COLLATE "C", round DESC) INCLUDE (due_at, status, done_at, owner_id) '
        "WHERE ((kind)::text = 'deadline'::text)"
    ),
}


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


async def test_migrations_match_tables_py(store: Store) -> None:
    async with store._engine.connect() as conn:
        diff = await conn.run_sync(_diff)
        if store.dialect == "postgresql":
            result = await conn.execute(
                text("SELECT indexname, indexdef FROM pg_indexes WHERE indexname = ANY(:names)"),
                {"names": list(POSTGRESQL_ONLY_INDEXES)},
            )
            assert {name: text_ for name, text_ in result} == POSTGRESQL_ONLY_INDEXES
            # compare_metadata sees them as indexes tables.py lacks
            assert {change[1].name for change in diff if change[0] == "remove_index"} == set(
                POSTGRESQL_ONLY_INDEXES
            )
            diff = [change for change in diff if change[0] != "remove_index"]
    assert diff == []


async def test_ping_and_dialect(store: Store, db_kind: str) -> None:
    assert store.dialect == db_kind
    assert await store.ping() is True
    assert store.url.startswith(db_kind)


async def test_ping_is_false_when_the_database_does_not_answer() -> None:
    broken = await Store.open("postgresql://nobody@127.0.0.1:1/none", migrate=False)
    try:
        assert await broken.ping(timeout=2) is False
    finally:
        await broken.close()


async def test_sqlite_connection_settings(store: Store) -> None:
    if store.dialect != "sqlite":
        async with store._engine.connect() as conn:
            level = (await conn.execute(text("SHOW transaction_isolation"))).scalar_one()
        assert level == "read committed"
        return
    async with store._engine.connect() as conn:
        values = {
            pragma: (await conn.execute(text(f"PRAGMA {pragma}"))).scalar_one()
            for pragma in ("journal_mode", "foreign_keys", "busy_timeout", "cache_size")
        }
    assert values == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "busy_timeout": 5000,
        "cache_size": -512,  # KiB, not SQLite's default of 2,000 (bot/store/engine.py)
    }


async def test_sqlite_ids_are_never_reused_in_the_model_as_in_the_migrations(
    tmp_path: Any,
) -> None:
    """audit_log and outbox are created with AUTOINCREMENT on SQLite, by the migrations and by
    tables.py's metadata (set when the table is created, not in Table(): bot/store/tables.py)."""
    from bot.store.aio import create_async_engine

    query = "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE '%AUTOINCREMENT%'"
    migrated = await Store.open(f"sqlite:///{tmp_path / 'migrated.db'}")
    try:
        async with migrated._engine.connect() as conn:
            by_migrations = {row[0] for row in await conn.execute(text(query))}
    finally:
        await migrated.close()
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'model.db'}")
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
            by_model = {row[0] for row in await conn.execute(text(query))}
    finally:
        await engine.dispose()
    assert by_migrations == by_model == {"audit_log", "outbox"}
