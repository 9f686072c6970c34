"""Applying the Alembic migrations programmatically (no alembic.ini at run time).

Two replicas starting together must not race: the upgrade runs in one transaction that first takes
a PostgreSQL advisory lock (on SQLite, the transaction starts with BEGIN IMMEDIATE and so holds the
write lock). The second replica waits, then finds the schema at head and does nothing.

Alembic (~11 MB and ~0.1 s of imports with Mako) is imported only when a migration is due: the
usual start reads `alembic_version` and compares it with the head revision, which is read from
the revision files' `revision` / `down_revision` lines. `leakbot run` migrates in a child process
(`upgrade_in_child`), so that after a first start Alembic is not in the server's memory either.
"""

from __future__ import annotations

import ast
import asyncio
import logging
import os
import re
import sys
import weakref
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Final

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from .aio import AsyncEngine
from .records import MigrationStatus

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "MIGRATIONS_DIR",
    "MigrationFailed",
    "alembic_config",
    "head_revision",
    "read_status",
    "upgrade_in_child",
    "upgrade_to_head",
]

log = logging.getLogger(__name__)

MIGRATIONS_DIR: Final[Path] = Path(__file__).resolve().parent / "migrations"
# pg_advisory_xact_lock key ("leakmigr"); the audit chain uses another one.
MIGRATION_LOCK_KEY: Final[int] = int.from_bytes(b"leakmigr", "big")
# How `upgrade_in_child` hands the database URL (with its password) to the child: not argv,
# which every user of the machine can read.
_CHILD_URL_ENV: Final[str] = "LEAKBOT_MIGRATE_URL"


class MigrationFailed(SQLAlchemyError):
    """The migration child process failed; the message is its one-line reason."""


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


_HEADER_LINE: Final = re.compile(r"(down_)?revision\s*[:=]")


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


def _header_assignments(source: str) -> ast.Module:
    """The module-level `revision` / `down_revision` assignments of a revision file, parsed
    alone: a whole file's syntax tree cost ~0.7 MB of RSS at every start (freed, but its pages
    stay in the process) for two lines of it. A file whose assignments span several lines is
    parsed whole."""
    lines = [line for line in source.splitlines() if _HEADER_LINE.match(line)]
    try:
        return ast.parse("\n".join(lines))
    except SyntaxError:
        return ast.parse(source)


@lru_cache(maxsize=1)
def head_revision() -> str:
    """The one revision no other revision names as its `down_revision` (Alembic's head; a unit
    test checks they agree)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        tree = _header_assignments(path.read_text(encoding="utf-8"))
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


# Whether alembic_version exists (in the search path / the main database, as Alembic makes it),
# asked in one plain statement: SQLAlchemy's Inspector compiles a catalog query first (on
# PostgreSQL ~3-5 ms of CPU and 15-25 ms of start-up on a busy machine; this ~1 ms).
_VERSION_TABLE_EXISTS: Final[dict[str, str]] = {
    "postgresql": "SELECT to_regclass('alembic_version') IS NOT NULL",
    "sqlite": "SELECT count(*) > 0 FROM sqlite_master "
    "WHERE type = 'table' AND name = 'alembic_version'",
}


def _current(connection: Connection) -> str | None:
    """The applied revision, read without Alembic (None on a database never migrated)."""
    exists = connection.execute(text(_VERSION_TABLE_EXISTS[connection.dialect.name])).scalar()
    if not exists:
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


async def upgrade_in_child(engine: AsyncEngine, url: str) -> None:
    """`upgrade_to_head` in a child process (`leakbot run`): Alembic, Mako and Pygments (~11 MB)
    imported in the server would stay in its memory after a first start (deleting the modules
    from sys.modules and collecting afterwards freed nothing measurable). The usual start
    (already at head) reads the revision here, through `engine`, and starts no process."""
    status = await read_status(engine)
    if status.up_to_date:
        return
    log.info("migrating the database", extra={"current": status.current, "head": status.head})
    from bot.python_child import run_python

    result = await run_python(
        ["-c", "from bot.store.migrate import child_main; child_main()"],
        env={**os.environ, _CHILD_URL_ENV: url},
    )
    if result.returncode != 0:
        raise MigrationFailed(
            result.last_error_line(f"the migration process ended with {result.returncode}")
        )


def child_main() -> None:
    """The child process of `upgrade_in_child`: exit 0 at head, or 1 with one line on stderr."""
    from .engine import Database

    async def migrate() -> None:
        await (await Database.open(os.environ[_CHILD_URL_ENV], migrate=True)).close()

    try:
        asyncio.run(migrate())
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    except Exception as exc:
        reason = getattr(exc, "orig", None) or exc
        lines = str(reason).strip().splitlines()
        print(lines[0] if lines else type(exc).__name__, file=sys.stderr)
        raise SystemExit(1) from None
