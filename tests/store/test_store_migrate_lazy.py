"""Start-up without Alembic: a database already at head is opened without importing it, and one
at an older revision is still upgraded (bot/store/migrate.py)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from bot.store import Store
from bot.store.migrate import MIGRATIONS_DIR, alembic_config, head_revision


def _downgrade_to_first(connection: Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.downgrade(config, "0001")


def test_head_revision_agrees_with_alembic() -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    assert head_revision() == ScriptDirectory.from_config(config).get_current_head()


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
