"""The language of the operator commands' own lines (docs/contracts.md, "Command line").

`--lang`, else LEAKBOT_LANGUAGE (default ja); when the settings themselves are wrong, the raw
LEAKBOT_LANGUAGE where it is ja or en, else Japanese. The CLI runs in-process (`bot.cli.main`, on
a thread: it starts its own event loop), `migrate` on SQLite and PostgreSQL.
(`audit verify`: test_audit_cli.py; `doctor`, `outbox` and start-up: tests/e2e.)
"""

from __future__ import annotations

import pytest

from bot.store import Store

from .cli_support import CliRun


async def test_migrate_in_japanese_and_english(
    cli: CliRun, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    code, out, err = await cli("migrate")
    assert (code, err) == (0, ""), err
    store = await Store.open(database_url, migrate=False)
    try:
        status = await store.migration_status()
        url = store.url
    finally:
        await store.close()
    assert status.up_to_date
    assert out.strip() == f"leakbot migrate: {url} のスキーマは {status.head} です（最新）"
    code, out, _ = await cli("migrate", "--lang", "en")
    assert code == 0
    assert out.strip() == f"leakbot migrate: {url} is at {status.head} (up to date)"
    monkeypatch.setenv("LEAKBOT_LANGUAGE", "en")
    code, out, _ = await cli("migrate")
    assert code == 0 and out.strip().endswith("(up to date)")


async def test_a_wrong_database_url_in_japanese_and_english(
    cli: CliRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://db/leakbot")
    code, out, err = await cli("migrate")
    assert (code, out) == (2, "")
    assert err.startswith("leakbot: DATABASE_URL のスキーム 'mysql' には対応していません。"), err
    code, _, err = await cli("migrate", "--lang", "en")
    assert code == 2
    assert err.startswith("leakbot: DATABASE_URL has an unsupported scheme 'mysql': "), err


async def test_a_wrong_setting_is_said_in_the_raw_leakbot_language(
    cli: CliRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The settings cannot be read: LEAKBOT_LANGUAGE as written in the environment decides."""
    monkeypatch.setenv("LEAKBOT_TIMEZONE", "Mars/Olympus")
    monkeypatch.setenv("LEAKBOT_LANGUAGE", "en")
    code, out, err = await cli("doctor")
    assert (code, out) == (2, "")
    assert err == "leakbot: LEAKBOT_TIMEZONE: unknown time zone 'Mars/Olympus' (e.g. Asia/Tokyo)\n"
    monkeypatch.delenv("LEAKBOT_LANGUAGE")
    code, _, err = await cli("audit", "verify")
    assert code == 2
    assert err == (
        "leakbot: LEAKBOT_TIMEZONE: タイムゾーン 'Mars/Olympus' は存在しません（例: Asia/Tokyo）\n"
    )
    code, _, err = await cli("outbox", "list", "--lang", "en")  # the flag still wins
    assert code == 2 and err.startswith("leakbot: LEAKBOT_TIMEZONE: unknown time zone")


async def test_a_language_setting_that_is_neither_ja_nor_en_is_said_in_japanese(
    cli: CliRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEAKBOT_LANGUAGE", "fr")
    code, _, err = await cli("migrate")
    assert code == 2
    assert err == "leakbot: LEAKBOT_LANGUAGE: ja, en のいずれかを指定してください（指定値: fr）\n"
    code, _, err = await cli("migrate", "--lang", "en")
    assert code == 2
    assert err == "leakbot: LEAKBOT_LANGUAGE: must be one of ja, en (got fr)\n"


async def test_summary_options_in_japanese_and_english(
    cli: CliRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = await cli("summary", "--week", "2026-W99")
    assert code == 2
    assert err == (
        "leakbot: --week: 2026-W48 のような ISO 週番号を指定してください（指定値: 2026-W99）\n"
    )
    code, _, err = await cli("summary", "--week", "2026-W99", "--lang", "en")
    assert err == "leakbot: --week: not an ISO week like 2026-W48: 2026-W99\n"
    code, _, err = await cli("summary", "--post")
    assert code == 2
    assert err == (
        "leakbot: --post には SLACK_BOT_TOKEN と LEAKBOT_SUMMARY_CHANNEL の設定が必要です\n"
    )
    monkeypatch.setenv("LEAKBOT_LANGUAGE", "en")
    code, _, err = await cli("summary", "--post")
    assert err == "leakbot: --post needs SLACK_BOT_TOKEN and LEAKBOT_SUMMARY_CHANNEL\n"
