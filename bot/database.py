"""Opening the database for a command, with failures a person can act on.

A wrong database name, an unknown role, a refused connection or a missing SQLite file becomes one
`DatabaseUnavailable` whose message names DATABASE_URL (password hidden) and what was wrong, for
every command; the CLI prints it as one line (exit 2) instead of a traceback.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from bot.config import ConfigError
from bot.domain.i18n import Msg, message_of, msg
from bot.store import Store, display_url, resolve_database_url
from bot.store.urls import DEFAULT_SQLITE_PATH

__all__ = ["DatabaseUnavailable", "database_errors", "describe_database_error", "open_store"]


class DatabaseUnavailable(ConfigError):
    """The database cannot be used as configured; the message names DATABASE_URL (a setting,
    hence a ConfigError: the CLI prints it as one line, exit 2)."""


def _shown(raw_url: str | None) -> str | Msg:
    """DATABASE_URL as the person wrote it, password hidden (unset: the default file)."""
    text = (raw_url or "").strip()
    if not text:
        return msg("database.unset", path=DEFAULT_SQLITE_PATH)
    return str(display_url(text)) if "://" in text else msg("database.shown_invalid")


def _unavailable(raw_url: str | None, problem: object) -> DatabaseUnavailable:
    return DatabaseUnavailable(msg("database.problem", url=_shown(raw_url), problem=problem))


def describe_database_error(exc: BaseException) -> str | Msg:
    """What went wrong, in one line, without the password or SQLAlchemy's boilerplate (the
    driver's own words as they are; ours from the catalog)."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        if getattr(exc.orig, "sqlite_errorname", None) == "SQLITE_READONLY_DIRECTORY":
            return msg("database.readonly_folder")
        text = str(exc.orig)
    elif isinstance(exc, ConnectionRefusedError):
        return msg("database.refused")
    elif isinstance(exc, socket.gaierror):
        return msg("database.unresolvable", error=exc.strerror or exc)
    elif isinstance(exc, TimeoutError):
        return msg("database.timeout")
    elif isinstance(exc, OSError):
        text = exc.strerror or str(exc)
    else:
        text = str(exc)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


@asynccontextmanager
async def database_errors(raw_url: str | None, *, writing: bool = False) -> AsyncIterator[None]:
    """Turns a database failure inside the block into DatabaseUnavailable (one line).
    `writing`: the block also writes a file: an OSError that is not a network one is the
    file's (a full disk, no permission), not the database's, and propagates."""
    try:
        yield
    except BrokenPipeError:  # our own output closed (`| head`), not the database
        raise
    except (SQLAlchemyError, OSError) as exc:  # (TimeoutError is an OSError)
        network = (ConnectionError, TimeoutError, socket.gaierror)
        if writing and isinstance(exc, OSError) and not isinstance(exc, network):
            raise  # the file's (a full disk, no permission): the caller words it
        raise _unavailable(raw_url, describe_database_error(exc)) from exc
    except Exception as exc:
        # asyncpg's own errors (e.g. InvalidCatalogNameError while SQLAlchemy connects) are
        # not always wrapped; anything else propagates unchanged.
        if type(exc).__module__.startswith("asyncpg"):
            raise _unavailable(raw_url, describe_database_error(exc)) from exc
        raise


def _sqlite_file(resolved: str) -> Path | None:
    url = make_url(resolved)
    if not url.drivername.startswith("sqlite") or not url.database:
        return None
    database = url.database
    return Path(database[5:] if database.startswith("file:") else database)


async def open_store(
    raw_url: str | None,
    *,
    migrate: bool,
    create: bool = True,
    require_schema: bool = False,
    migrate_in_child: bool = False,
) -> Store:
    """Store.open with one-line errors.

    `create=False`: a missing SQLite file (or its folder) is an error, not created (summary,
    audit verify, outbox, doctor). `require_schema`: the database must already hold this
    release's schema; nothing is migrated. `migrate_in_child`: a due migration runs in a child
    process (`leakbot run`: Alembic does not stay in the server's memory)."""
    try:
        resolved = resolve_database_url(raw_url, create_folder=create)
    except ValueError as exc:
        raise DatabaseUnavailable(message_of(exc)) from exc
    except OSError as exc:  # the SQLite file's folder cannot be created
        problem = msg("database.cannot_create_folder", error=exc.strerror or exc)
        raise _unavailable(raw_url, problem) from exc
    if not create:
        path = _sqlite_file(resolved)
        if path is not None and not path.is_file():
            raise _unavailable(raw_url, msg("database.missing_file"))
    async with database_errors(raw_url):
        store = await Store.open(
            resolved, migrate=migrate and not require_schema, migrate_in_child=migrate_in_child
        )
        try:  # connects (Store.open without migrating does not): a wrong name fails here
            status = await store.migration_status()
        except BaseException:
            await store.close()
            raise
    if require_schema and status.current != status.head:
        await store.close()
        problem = (
            msg("database.no_schema", head=status.head)
            if status.current is None
            else msg("database.old_schema", current=status.current, head=status.head)
        )
        raise _unavailable(raw_url, problem)
    return store
