"""bot/store/sqlite_library.py: SQLite's memory statistics (one mutex for every allocation of
every connection) are switched off before the process's first SQLite connection, and never while
one is open. Each case runs in a fresh interpreter: the setting is the process's, once."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bot.store.sqlite_library import _loaded_library

pytestmark = pytest.mark.skipif(
    _loaded_library() is None,
    reason="this Python's sqlite3 has SQLite built in (no shared library to configure)",
)

# Allocation statistics as SQLite keeps them: with them off, sqlite3_memory_used() stays 0
# while a connection holds memory.
PROBE = """
import asyncio, json, sqlite3
from bot.store.sqlite_library import _loaded_library, switch_off_memory_statistics
library = _loaded_library()
"""


def _run(code: str, tmp_path: Path) -> dict[str, object]:
    script = PROBE + textwrap.dedent(code)
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    outcome: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return outcome


def test_a_store_opened_first_switches_them_off_and_works(tmp_path: Path) -> None:
    outcome = _run(
        f"""
        from datetime import UTC, datetime
        from bot.store import Store

        async def main():
            store = await Store.open("sqlite+aiosqlite:///{tmp_path / "leakbot.db"}")
            try:
                claimed = await store.claim_job("probe", owner="test", now=datetime.now(UTC))
                again = await store.claim_job("probe", owner="test", now=datetime.now(UTC))
                raw = sqlite3.connect("{tmp_path / "leakbot.db"}")
                jobs = raw.execute("SELECT count(*) FROM job_runs").fetchone()[0]
                used = library.sqlite3_memory_used()  # a connection is open: 0 only when off
                raw.close()
            finally:
                await store.close()
            return {{"off": switch_off_memory_statistics(), "used": used,
                     "claimed": claimed, "again": again, "jobs": jobs}}

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
