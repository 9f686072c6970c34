"""bot/store/sqlite_library.py: SQLite's memory statistics (one mutex for every allocation of
every connection) are switched off before the process's first SQLite connection, and never while
one is open; `leakbot export` does it. Each case runs in a fresh interpreter: the setting is the
process's, once."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from fresh_interpreter import run_json

from bot.store.sqlite_library import _loaded_library

pytestmark = pytest.mark.skipif(
    _loaded_library() is None,
    reason="this Python's sqlite3 has SQLite built in (no shared library to configure)",
)

# With the statistics on, sqlite3_memory_used() counts what open connections hold; off, it
# stays 0 while a connection holds memory.
PROBE = """
import asyncio, json, sqlite3
from bot.store.sqlite_library import _loaded_library, switch_off_memory_statistics
library = _loaded_library()
"""


def _run(code: str, tmp_path: Path) -> dict[str, object]:
    outcome: dict[str, object] = run_json(PROBE + textwrap.dedent(code), cwd=tmp_path)
    return outcome


def test_switched_off_first_then_a_store_works(tmp_path: Path) -> None:
    outcome = _run(
        f"""
        from datetime import UTC, datetime
        from bot.store import Store

        async def main():
            off = switch_off_memory_statistics()
            store = await Store.open("sqlite+aiosqlite:///{tmp_path / "leakbot.db"}")
            try:
                claimed = await store.claim_job("probe", owner="test", now=datetime.now(UTC))
                again = await store.claim_job("probe", owner="test", now=datetime.now(UTC))
                raw = sqlite3.connect("{tmp_path / "leakbot.db"}")
                jobs = raw.execute("SELECT count(*) FROM job_runs").fetchone()[0]
                used = library.sqlite3_memory_used()  # connections are open: 0 only when off
                raw.close()
            finally:
                await store.close()
            return {{"off": off, "used": used, "claimed": claimed, "again": again,
                     "jobs": jobs}}

        print(json.dumps(asyncio.run(main())))
        """,
        tmp_path,
    )
    assert outcome == {"off": True, "used": 0, "claimed": True, "again": False, "jobs": 1}


def test_left_on_when_a_connection_is_already_open(tmp_path: Path) -> None:
    outcome = _run(
        f"""
        raw = sqlite3.connect("{tmp_path / "other.db"}")
        raw.execute("CREATE TABLE t (x)")
        first = switch_off_memory_statistics()
        used = library.sqlite3_memory_used()
        rows = raw.execute("SELECT count(*) FROM t").fetchone()[0]  # still usable
        raw.close()
        # Tried once per process: with no connection open now, a second call still changes
        # nothing (the statistics still count a new connection's memory).
        second = switch_off_memory_statistics()
        again = sqlite3.connect(":memory:")
        print(json.dumps({{"first": first, "used_positive": used > 0, "rows": rows,
                          "second": second,
                          "still_counting": library.sqlite3_memory_used() > 0}}))
        again.close()
        """,
        tmp_path,
    )
    assert outcome == {
        "first": False,
        "used_positive": True,
        "rows": 0,
        "second": False,
        "still_counting": True,
    }


def test_leakbot_export_switches_them_off_and_run_does_not(tmp_path: Path) -> None:
    """The export reads on two connections at once; the server keeps SQLite's defaults."""
    database = tmp_path / "leakbot.db"
    outcome = _run(
        f"""
        import contextlib, io, os
        from bot.store import Store

        async def create():
            await (await Store.open("sqlite+aiosqlite:///{database}")).close()

        asyncio.run(create())
        # The store as `leakbot run` opens it: the statistics still count.
        async def served():
            store = await Store.open("sqlite+aiosqlite:///{database}", migrate=False)
            try:
                async with store.read() as conn:
                    return library.sqlite3_memory_used()
            finally:
                await store.close()
        served_used = asyncio.run(served())
        # A fresh process state is needed for the export: every connection is closed now.
        os.environ.update(DATABASE_URL="sqlite:///{database}", LEAKBOT_LANGUAGE="en")
        from bot.cli import main
        with contextlib.redirect_stdout(io.StringIO()):
            code = main(["export", "--format", "csv", "--out", "{tmp_path / "out.csv"}"])
        raw = sqlite3.connect("{database}")
        raw.execute("SELECT count(*) FROM incidents").fetchone()
        print(json.dumps({{"served_counting": served_used > 0, "code": code,
                          "export_off": library.sqlite3_memory_used() == 0}}))
        """,
        tmp_path,
    )
    assert outcome == {"served_counting": True, "code": 0, "export_off": True}
