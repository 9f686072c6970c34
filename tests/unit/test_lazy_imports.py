"""What `leakbot run` and the other commands import at start: not the libraries only some
commands or features use (Alembic only to migrate, matplotlib only to draw the summary chart,
holidays at the first deadline, python-docx and Jinja2 when drafting, the PostgreSQL dialect only
for a PostgreSQL database, aiosqlite and the SQLite dialect only for a SQLite one) — and never
`sqlalchemy.orm` (~7.7 MB, pulled in by `sqlalchemy.ext.asyncio`, which bot/store/aio.py
replaces), not even once a store is open and written to."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

# Loaded later, by the features that need them (the names as in sys.modules).
LATER = (
    "alembic",
    "mako",
    "matplotlib",
    "holidays",
    "docx",
    "jinja2",
    "sqlalchemy.dialects.postgresql",
    "asyncpg",
    "sqlalchemy.dialects.sqlite",
    "aiosqlite",
)
SQLITE = ("sqlalchemy.dialects.sqlite", "aiosqlite")
# Never imported by a store that is already migrated (Alembic, which imports it, runs only to
# migrate, and `leakbot run` migrates in a child process).
NEVER = ("sqlalchemy.orm", "sqlalchemy.ext.asyncio")


def _loaded_of(later: tuple[str, ...], code: str) -> list[str]:
    """Which of `later` are imported after running `code` in a fresh interpreter."""
    probe = (
        f"import json, sys; {code}; later = {later!r}; print(json.dumps(sorted("
        "n for n in later if any(m == n or m.startswith(n + '.') for m in sys.modules))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    loaded: list[str] = json.loads(result.stdout)
    return loaded


def test_start_up_imports_none_of_what_features_load_later() -> None:
    code = "import bot.cli, bot.server, bot.slack.app, bot.logs"
    assert _loaded_of((*LATER, *NEVER), code) == []


def test_an_open_store_reads_and_writes_without_the_orm(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'leakbot.db'}"
    # Created (and migrated: Alembic) in one process, then used as `leakbot run` uses it.
    migrate = f"import asyncio; from bot.store import Store; asyncio.run(Store.open({url!r}))"
    subprocess.run([sys.executable, "-c", migrate], timeout=120, check=True)
    use = (
        "import asyncio; from datetime import UTC, datetime; from bot.store import Store\n"
        "async def main():\n"
        f"    store = await Store.open({url!r}, migrate_in_child=True)\n"
        "    assert await store.ping() and (await store.migration_status()).up_to_date\n"
        "    now = datetime(2026, 5, 1, tzinfo=UTC)\n"
        "    assert await store.claim_job('job:1', owner='t', now=now)\n"
        "    await store.close()\n"
        "asyncio.run(main())"
    )
    assert _loaded_of(NEVER, use) == []


def test_an_open_postgresql_store_loads_nothing_of_sqlite(database_url: str, db_kind: str) -> None:
    if db_kind != "postgresql":
        pytest.skip("what a PostgreSQL store leaves out")
    migrate = (
        f"import asyncio; from bot.store import Store; asyncio.run(Store.open({database_url!r}))"
    )
    subprocess.run([sys.executable, "-c", migrate], timeout=120, check=True)
    use = (
        "import asyncio; from datetime import UTC, datetime; from bot.store import Store\n"
        "async def main():\n"
        f"    store = await Store.open({database_url!r}, migrate_in_child=True)\n"
        "    assert (await store.migration_status()).up_to_date\n"
        "    now = datetime(2026, 5, 1, tzinfo=UTC)\n"
        "    assert await store.claim_job('job:1', owner='t', now=now)\n"
        "    await store.close()\n"
        "asyncio.run(main())"
    )
    assert _loaded_of((*SQLITE, *NEVER), use) == []


def test_a_sqlite_store_loads_its_dialect(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'leakbot.db'}"
    use = f"import asyncio; from bot.store import Store; asyncio.run(Store.open({url!r}))"
    assert _loaded_of(SQLITE, use) == sorted(SQLITE)


def test_the_first_deadline_imports_holidays() -> None:
    code = (
        "from datetime import date; from bot.domain.calendar import is_business_day; "
        "assert 'holidays' not in sys.modules; assert not is_business_day(date(2026, 1, 12))"
    )
    assert _loaded_of(("holidays",), code) == ["holidays"]


def test_drawing_the_chart_imports_matplotlib_with_the_agg_backend() -> None:
    probe = (
        "import sys; from bot.domain.playbook import load_playbook; "
        "from bot.domain.chart import WeeklyActions; from bot.summary_chart import render_chart; "
        "assert 'matplotlib' not in sys.modules; "
        "render_chart(load_playbook(), WeeklyActions((), {}), 'en'); "
        "import matplotlib; print(matplotlib.get_backend().lower())"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.strip() == "agg"


def test_run_reads_the_playbook_before_importing_the_server(tmp_path: Path) -> None:
    """`leakbot run` parses the playbook first, so that the server's imports reuse the memory
    its YAML parse freed (~1 MB less RSS after start): a broken playbook ends it before any
    server module is loaded."""
    playbook = tmp_path / "leak.yml"
    playbook.write_text("steps: [", encoding="utf-8")
    env = {
        "PATH": "/usr/bin:/bin",
        "SLACK_BOT_TOKEN": "xoxb-lazy-imports",
        "SLACK_SIGNING_SECRET": "lazy-imports-secret",
        "LEAKBOT_ESCALATION_CHANNEL": "C0LAZY",
        "LEAKBOT_APPROVERS": "U0LAZY",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'leakbot.db'}",
        "LEAKBOT_PLAYBOOK": str(playbook),
    }
    probe = (
        "import json, sys; from bot.cli import main; code = main(['run', '--http']); "
        "print(json.dumps([code, sorted(m for m in ('bot.server', 'bot.slack.app', 'aiohttp') "
        "if m in sys.modules)]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=tmp_path,
        env=env,
    )
    assert "not valid YAML" in result.stderr
    assert json.loads(result.stdout) == [2, []]
