"""Applying the Alembic migrations programmatically (no alembic.ini at run time).

Two replicas starting together must not race: the upgrade runs in one transaction that first takes
a PostgreSQL advisory lock (on SQLite, the transaction starts with BEGIN IMMEDIATE and so holds the
write lock). The second replica waits, then finds the schema at head and does nothing.
"""

from __future__ import annotations

import asyncio
import weakref
from pathlib import Path
from typing import Final

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from .records import MigrationStatus

__all__ = ["MIGRATIONS_DIR", "alembic_config", "head_revision", "read_status", "upgrade_to_head"]

MIGRATIONS_DIR: Final[Path] = Path(__file__).resolve().parent / "migrations"
# pg_advisory_xact_lock key ("leakmigr"); the audit chain uses another one.
MIGRATION_LOCK_KEY: Final[int] = int.from_bytes(b"leakmigr", "big")

# Alembic's `context` / `op` are process-global proxies: two upgrades interleaving on one event
# loop would trample each other, so they are serialised per loop (the database lock does the rest).
_loop_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def _loop_lock() -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    lock = _loop_locks.get(loop)
    if lock is None:
        lock = _loop_locks[loop] = asyncio.Lock()
    return lock


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships revisions
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


def _upgrade(connection: Connection, config: Config) -> None:
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def upgrade_to_head(engine: AsyncEngine) -> None:
    async with _loop_lock(), engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
            )
        await conn.run_sync(_upgrade, alembic_config())


async def read_status(engine: AsyncEngine) -> MigrationStatus:
    async with engine.connect() as conn:
        current = await conn.run_sync(_current)
    return MigrationStatus(current=current, head=head_revision())
