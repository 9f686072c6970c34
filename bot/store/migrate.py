"""Applying the Alembic migrations programmatically (no alembic.ini at run time).

Two replicas starting together must not race: the upgrade runs in one transaction that first takes
a PostgreSQL advisory lock (on SQLite, the transaction starts with BEGIN IMMEDIATE and so holds the
write lock). The second replica waits, then finds the schema at head and does nothing.

Alembic (~11 MB and ~0.1 s of imports with Mako) is imported only when a migration is due: the
usual start reads `alembic_version` and compares it with the head revision, which is read from
the revision files' `revision` / `down_revision` lines.
"""

from __future__ import annotations

import ast
import asyncio
import weakref
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Final

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from .records import MigrationStatus

if TYPE_CHECKING:
    from alembic.config import Config

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
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def _assigned_string(tree: ast.Module, name: str) -> str | None:
    for node in tree.body:
        targets: list[ast.expr]
        if isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        elif isinstance(node, ast.Assign):
            targets, value = list(node.targets), node.value
        else:
            continue
        if any(isinstance(target, ast.Name) and target.id == name for target in targets):
            literal = ast.literal_eval(value)
            return literal if isinstance(literal, str) else None
    return None


@lru_cache(maxsize=1)
def head_revision() -> str:
    """The one revision no other revision names as its `down_revision` (Alembic's head; a unit
    test checks they agree)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        revision = _assigned_string(tree, "revision")
        if revision is None:
            continue
        revisions.add(revision)
        parent = _assigned_string(tree, "down_revision")
        if parent is not None:
            parents.add(parent)
    heads = revisions - parents
    if len(heads) != 1:  # pragma: no cover - the package always ships one line of revisions
        raise RuntimeError(f"expected one head revision in {MIGRATIONS_DIR}, found {sorted(heads)}")
    return heads.pop()


def _upgrade(connection: Connection, config: Config) -> None:
    from alembic import command

    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _current(connection: Connection) -> str | None:
    """The applied revision, read without Alembic (None on a database never migrated)."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    rows = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return rows[0] if len(rows) == 1 else None


async def upgrade_to_head(engine: AsyncEngine) -> None:
    async with _loop_lock(), engine.begin() as conn:
        # The usual start: already at head, nothing to lock, Alembic not even imported.
        if await conn.run_sync(_current) == head_revision():
            return
        if conn.dialect.name == "postgresql":
            await conn.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
            )
        await conn.run_sync(_upgrade, alembic_config())


async def read_status(engine: AsyncEngine) -> MigrationStatus:
    async with engine.connect() as conn:
        current = await conn.run_sync(_current)
    return MigrationStatus(current=current, head=head_revision())
