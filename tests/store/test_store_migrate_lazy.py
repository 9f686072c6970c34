"""Start-up without Alembic: a database already at head is opened without importing it, and one
at an older revision is still upgraded (bot/store/migrate.py); `leakbot run` migrates in a child
process, so Alembic is not in its memory even after a first start."""

from __future__ import annotations

import ast
import asyncio
import subprocess
import sys
import textwrap

import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection

from bot.database import DatabaseUnavailable, open_store
from bot.store import Store
from bot.store.migrate import (
    MIGRATIONS_DIR,
    MigrationFailed,
    _assigned_string,
    _header_assignments,
    alembic_config,
    head_revision,
)


def _downgrade_to_first(connection: Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.downgrade(config, "0001")


def test_head_revision_agrees_with_alembic() -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    assert head_revision() == ScriptDirectory.from_config(config).get_current_head()


def test_revision_lines_read_as_the_whole_file_does() -> None:
    for path in sorted((MIGRATIONS_DIR / "versions").glob("*.py")):
        source = path.read_text(encoding="utf-8")
        for name in ("revision", "down_revision"):
            assert _assigned_string(_header_assignments(source), name) == _assigned_string(
                ast.parse(source), name
            ), (path.name, name)
    # An assignment over several lines cannot be parsed alone: the whole file is.
    wrapped = 'revision: str = (\n    "0042"\n)\ndown_revision = "0041"\n'
    assert _assigned_string(_header_assignments(wrapped), "revision") == "0042"
    assert _assigned_string(_header_assignments(wrapped), "down_revision") == "0041"


async def test_open_at_head_does_not_import_alembic(database_url: str) -> None:
    await (await Store.open(database_url)).close()  # migrated here (Alembic in this process)
    probe = textwrap.dedent(
        f"""
        import asyncio, sys
        from bot.store import Store

        async def main():
            store = await Store.open({database_url!r})
            status = await store.migration_status()
            await store.close()
            print(status.up_to_date, any(m.split(".")[0] == "alembic" for m in sys.modules))

        asyncio.run(main())
        """
    )
    result = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "False"]


async def test_older_revision_is_upgraded(database_url: str) -> None:
    store = await Store.open(database_url)
    try:
        async with store._writer.begin() as conn:
            await conn.run_sync(_downgrade_to_first)
        assert (await store.migration_status()).current == "0001"
    finally:
        await store.close()
    reopened = await Store.open(database_url)
    try:
        status = await reopened.migration_status()
        assert status.up_to_date and status.current == head_revision()
    finally:
        await reopened.close()


async def test_migrating_in_a_child_leaves_alembic_out_of_this_process(database_url: str) -> None:
    probe = textwrap.dedent(
        f"""
        import asyncio, sys
        from bot.store import Store

        async def main():
            store = await Store.open({database_url!r}, migrate_in_child=True)
            status = await store.migration_status()
            await store.close()
            print(status.current, any(m.split(".")[0] == "alembic" for m in sys.modules))

        asyncio.run(main())
        """
    )
    result = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [head_revision(), "False"]


async def test_a_migration_failing_in_the_child_is_one_line(database_url: str) -> None:
    store = await Store.open(database_url)
    try:
        async with store._writer.begin() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    finally:
        await store.close()
    with pytest.raises(MigrationFailed) as raised:
        await Store.open(database_url, migrate_in_child=True)
    assert str(raised.value) == "Can't locate revision identified by '9999'"
    with pytest.raises(DatabaseUnavailable) as unavailable:
        await open_store(database_url, migrate=True, migrate_in_child=True)
    message = str(unavailable.value)
    assert message.startswith("DATABASE_URL ") and message.endswith("'9999'"), message
    assert "\n" not in message
