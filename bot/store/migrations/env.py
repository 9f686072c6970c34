"""Alembic environment for leakbot's store.

At run time the store applies migrations itself (`bot.store.migrate.upgrade_to_head`): it opens a
transaction (holding a PostgreSQL advisory lock, or SQLite's write lock through BEGIN IMMEDIATE) and
hands the connection to this script in `config.attributes["connection"]`, so no alembic.ini is read.

For development (`alembic -c bot/store/migrations/alembic.ini revision --autogenerate -m ...`) the
script connects by itself to `sqlalchemy.url` from the ini, or else to DATABASE_URL.
"""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from bot.store.tables import metadata
from bot.store.urls import resolve_database_url

config = context.config
target_metadata = metadata


def _url() -> str:
    configured = config.get_main_option("sqlalchemy.url")
    return resolve_database_url(configured or os.environ.get("DATABASE_URL"))


def do_run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    engine = create_async_engine(_url(), poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(do_run_migrations)
    finally:
        await engine.dispose()


def run_migrations_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        do_run_migrations(connection)
    elif context.is_offline_mode():
        run_migrations_offline()
    else:
        asyncio.run(run_async_migrations())


main()
