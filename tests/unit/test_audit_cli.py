"""`leakbot audit verify`: the hash-chained, append-only audit trail, checked from the CLI.

Rows are written through the Store, then the CLI runs in-process (`bot.cli.main`, on a thread:
it starts its own event loop) against the same database, on SQLite and PostgreSQL. Tampering
needs the append-only triggers dropped first, through a raw connection outside the Store.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import sqlite3
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from bot.cli import main
from bot.store import NewIncident, Store

from .cli_support import CliRun

T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
RawSQL = Callable[[str], Awaitable[list[tuple[Any, ...]]]]
# The trigger names, as created by bot/store/migrations/versions/0001_initial.py.
SQLITE_TRIGGERS = ("audit_log_no_update", "audit_log_no_delete")
PG_TRIGGER = "audit_log_append_only"
STORE_DIR = Path(__file__).resolve().parents[2] / "bot" / "store"


def _incident(partner: str) -> NewIncident:
    return NewIncident(
        partner=partner,
        reporter_id="UREPORTER1",
        team_id="T1",
        locale="ja",
        answers={"partner": partner, "cause": "negligence", "data_kinds": ["trade_secret"]},
        assessment={"recommendation": "request_report", "distribution": {"request_report": 0.43}},
        recommendation="request_report",
        year=2026,
        submission_key=None,
    )


async def _history(store: Store) -> int:
    """A few audit rows of several kinds; returns how many rows the trail has."""
    first, _ = await store.create_incident(_incident("株式会社アクメ"), now=T0)
    await store.record_approval(
        first.id, approver_id="UAPPROVER1", action="request_report", required=1, now=T0
    )
    second, _ = await store.create_incident(_incident("Globex Inc."), now=T0 + timedelta(hours=1))
    await store.append_audit(
        "UAPPROVER2",
        "approval.refused",
        incident_id=second.id,
        after={"action": "reject", "reason": "not_approver"},
        now=T0 + timedelta(hours=2),
    )
    await store.append_audit(
        "leakbot", "summary.posted", after={"week": "2026-W18", "注": "日本語"}, now=T0
    )
    count, _ = await store.audit_head()
    return count


@pytest.fixture
def verify(run_cli: CliRun) -> CliRun:
    """`leakbot audit verify [FLAGS]` against the test database: (exit code, out, err).
    LEAKBOT_LANGUAGE is unset: Japanese unless `--lang en`."""
    return lambda *flags: run_cli("audit", "verify", *flags)


async def _drop_triggers(store: Store, raw_sql: RawSQL) -> None:
    if store.dialect == "postgresql":
        await raw_sql(f"DROP TRIGGER {PG_TRIGGER} ON audit_log")
    else:
        for name in SQLITE_TRIGGERS:
            await raw_sql(f"DROP TRIGGER {name}")


async def test_untouched_trail_is_intact(store: Store, verify: CliRun) -> None:
    rows = await _history(store)
    assert rows == 6  # created, approval.recorded, decided, created, refused, summary
    code, out, err = await verify("--lang", "en")
    assert code == 0, (out, err)
    assert "intact" in out and "TAMPERED" not in out
    assert f"{rows} rows" in out
    _, head = await store.audit_head()
    assert head in out  # the head hash, to publish elsewhere
    assert err == ""


async def test_empty_trail_is_intact(store: Store, verify: CliRun) -> None:
    code, out, _ = await verify("--lang", "en")
    assert code == 0 and "intact" in out and "0 rows" in out


async def test_changed_row_is_reported_by_number(
    store: Store, raw_sql: RawSQL, verify: CliRun
) -> None:
    await _history(store)
    await _drop_triggers(store, raw_sql)
    await raw_sql("UPDATE audit_log SET actor_id = 'UMALLORY1' WHERE id = 3")
    code, out, err = await verify("--lang", "en")
    assert code == 1, (out, err)
    assert "TAMPERED" in out and "intact" not in out
    assert "audit row 3: hash does not match its content" in out
    # Only the changed row is named: the rows after it still link to its stored hash.
    assert re.findall(r"audit row (\d+)", out) == ["3"]


async def test_changed_json_is_reported(store: Store, raw_sql: RawSQL, verify: CliRun) -> None:
    await _history(store)
    await _drop_triggers(store, raw_sql)
    # The refusal's reason rewritten, as someone covering their tracks might.
    await raw_sql(
        'UPDATE audit_log SET "after" = \'{"action": "reject", "reason": "ok"}\' '
        "WHERE action = 'approval.refused'"
    )
    [(row_id,)] = await raw_sql("SELECT id FROM audit_log WHERE action = 'approval.refused'")
    code, out, _ = await verify("--lang", "en")
    assert code == 1 and "TAMPERED" in out
    assert f"audit row {row_id}: hash does not match its content" in out


async def test_deleted_row_is_reported_at_the_next_row(
    store: Store, raw_sql: RawSQL, verify: CliRun
) -> None:
    await _history(store)
    await _drop_triggers(store, raw_sql)
    await raw_sql("DELETE FROM audit_log WHERE id = 2")
    code, out, _ = await verify("--lang", "en")
    assert code == 1 and "TAMPERED" in out
    assert "audit row 3: prev_hash does not match" in out
    assert "in 5 rows" in out


async def test_the_report_is_in_japanese_by_default_and_in_english_by_setting(
    store: Store,
    raw_sql: RawSQL,
    verify: CliRun,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """LEAKBOT_LANGUAGE unset: Japanese; LEAKBOT_LANGUAGE=en: English; `--lang` wins over it.
    The prefix, the counts, the row ids and the head hash stay as they are."""
    rows = await _history(store)
    _, head = await store.audit_head()
    code, out, err = await verify()
    assert (code, err) == (0, "")
    assert out.strip() == (
        f"leakbot audit: 改ざんはありません — {rows}行すべてのハッシュを検証しました。"
        f"最新行のハッシュ: {head}"
    )
    monkeypatch.setenv("LEAKBOT_LANGUAGE", "en")
    code, out, _ = await verify()
    assert code == 0
    assert out.strip() == f"leakbot audit: intact — {rows} rows, every hash verified; head {head}"
    code, out, _ = await verify("--lang", "ja")
    assert code == 0 and out.startswith("leakbot audit: 改ざんはありません — ")

    await _drop_triggers(store, raw_sql)
    await raw_sql("DELETE FROM audit_log WHERE id = 2")
    code, out, _ = await verify("--lang", "ja")
    assert code == 1
    assert out.splitlines() == [
        "leakbot audit: 監査ログ ID 3: prev_hash が直前の行のハッシュと一致しません"
        "（この行より前で行が削除・挿入・変更されています）",
        f"leakbot audit: 改ざんを検出しました — {rows - 1}行中 1件の問題",
    ]
    code, out, _ = await verify()  # LEAKBOT_LANGUAGE=en
    assert code == 1 and out.splitlines()[-1] == (
        f"leakbot audit: TAMPERED — 1 problem(s) in {rows - 1} rows"
    )


async def test_a_missing_schema_is_said_in_the_chosen_language(
    db_kind: str, verify: CliRun
) -> None:
    """An empty database (on SQLite: no file yet): one `leakbot:` line, exit 2, ja or en."""
    said = {}
    for flags in ([], ["--lang", "en"]):
        code, _, err = await verify(*flags)
        assert code == 2
        [line] = err.splitlines()
        assert line.startswith("leakbot: DATABASE_URL ")
        said[bool(flags)] = line
    if db_kind == "sqlite":
        assert "データベースがまだありません" in said[False]
        assert "no database there yet" in said[True]
    else:
        assert "leakbot のテーブルがありません" in said[False] and "leakbot migrate" in said[False]
        assert "the schema has no leakbot tables" in said[True]


@pytest.mark.usefixtures("clean_cli_settings")
def test_tamper_through_a_plain_sqlite3_connection(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The scenario as an operator would meet it: a SQLite file, the sqlite3 shell's library."""
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    monkeypatch.setenv("DATABASE_URL", url)

    async def write() -> None:
        store = await Store.open(url)
        try:
            await _history(store)
        finally:
            await store.close()

    asyncio.run(write())
    assert main(["audit", "verify"]) == 0
    path = make_url(url).database
    assert path
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute("UPDATE audit_log SET actor_id = 'UMALLORY1' WHERE id = 1")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute("DELETE FROM audit_log WHERE id = 1")
        conn.execute("DROP TRIGGER audit_log_no_update")
        conn.execute("UPDATE audit_log SET actor_id = 'UMALLORY1' WHERE id = 1")
    finally:
        conn.close()
    assert main(["audit", "verify"]) == 1


async def test_update_and_delete_fail_while_the_trigger_is_there(
    store: Store, raw_sql: RawSQL, verify: CliRun
) -> None:
    rows = await _history(store)
    statements = [
        "UPDATE audit_log SET actor_id = 'UMALLORY1' WHERE id = 1",
        "UPDATE audit_log SET hash = prev_hash",
        "DELETE FROM audit_log WHERE id = 2",
        "DELETE FROM audit_log",
    ]
    if store.dialect == "postgresql":
        statements.append("TRUNCATE audit_log")
    for statement in statements:
        with pytest.raises(Exception, match="append-only"):
            await raw_sql(statement)
    # Inserting stays possible (that is how the trail grows) — but a forged row breaks the chain.
    assert (await store.audit_head())[0] == rows
    code, out, _ = await verify("--lang", "en")
    assert code == 0 and "intact" in out
    await raw_sql(
        'INSERT INTO audit_log (incident_id, actor_id, action, "before", "after", at, '
        "prev_hash, hash) VALUES (NULL, 'UMALLORY1', 'summary.posted', NULL, NULL, "
        "'2026-05-01 09:00:00+00:00', 'forged-prev', 'forged-hash')"
    )
    code, out, _ = await verify("--lang", "en")
    assert code == 1 and "TAMPERED" in out
    assert f"audit row {rows + 1}: prev_hash does not match" in out
    assert f"audit row {rows + 1}: hash does not match its content" in out


def test_store_offers_no_way_to_change_or_remove_audit_rows() -> None:
    public = {
        name
        for name, member in inspect.getmembers(Store)
        if not name.startswith("_") and callable(member)
    }
    changing = re.compile(r"update|delete|remove|erase|purge|truncate|rewrite|edit|amend|replace")
    audit_methods = {name for name in public if "audit" in name}
    assert audit_methods == {"append_audit", "audit_head", "audit_trail", "verify_audit_chain"}
    assert [name for name in audit_methods if changing.search(name)] == []
    # And no code in the store writes to audit_log other than by inserting.
    source = "\n".join(path.read_text("utf-8") for path in STORE_DIR.glob("*.py"))
    assert "audit_log.insert(" in source  # the scan reads the store's code
    for pattern in (
        r"audit_log\.update\(",
        r"audit_log\.delete\(",
        r"update\(\s*audit_log",
        r"delete\(\s*audit_log",
        r"UPDATE\s+audit_log",
        r"DELETE\s+FROM\s+audit_log",
    ):
        assert not re.search(pattern, source, re.IGNORECASE), pattern
