"""`leakbot summary --post [--wait]` and `leakbot outbox list|retry`, on each database.

The commands run in-process (`bot.cli.main`) on a worker thread, because each starts its own event
loop while the Slack emulator serves from the test's loop. The summary channel is first unknown
to Slack (channel_not_found: the message dies), then created.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from conftest import APPROVER_1, CHANNEL, GROUP, SUMMARY_CHANNEL
from slackemu import SlackEmulator

from bot.cli import main as leakbot_cli
from bot.store import Store

TOKEN = "xoxb-summary-token"


class Cli:
    def __init__(
        self,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
        database_url: str,
        emu: SlackEmulator,
    ) -> None:
        self.capsys = capsys
        values = {
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_API_URL": emu.api_url,
            "DATABASE_URL": database_url,
            "LEAKBOT_ESCALATION_CHANNEL": CHANNEL,
            "LEAKBOT_SUMMARY_CHANNEL": SUMMARY_CHANNEL,
            "LEAKBOT_APPROVERS": f"{APPROVER_1},{GROUP}",
            "LEAKBOT_LANGUAGE": "en",
        }
        for name, value in values.items():
            monkeypatch.setenv(name, value)

    async def __call__(self, *args: str) -> tuple[int, str]:
        self.capsys.readouterr()
        code = await asyncio.to_thread(leakbot_cli, list(args))
        captured = self.capsys.readouterr()
        assert "Traceback" not in captured.out + captured.err
        return code, captured.out + captured.err


@pytest.fixture
async def setup(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    database_url: str,
    store: Store,
    tmp_path: Path,
) -> AsyncIterator[tuple[Cli, SlackEmulator]]:
    monkeypatch.chdir(tmp_path)  # no stray .env
    async with SlackEmulator(valid_tokens=[TOKEN], strict_channels=True) as emu:
        emu.add_channel(CHANNEL, is_member=True)  # the summary channel does not exist yet
        yield Cli(monkeypatch, capsys, database_url, emu), emu


def item_id(out: str) -> int:
    found = re.search(r"outbox item (\d+)", out)
    assert found, out
    return int(found.group(1))


def summary_posts(emu: SlackEmulator) -> list[object]:
    return [
        call
        for call in emu.successful_calls_to("chat.postMessage")
        if call.args.get("channel") == SUMMARY_CHANNEL
    ]


async def test_post_queues_wait_reports_slacks_answer_and_retry_delivers(
    setup: tuple[Cli, SlackEmulator],
) -> None:
    cli, emu = setup
    code, out = await cli("summary", "--week", "2026-W48", "--post")
    assert code == 0, out
    assert "summary 2026-W48 queued for CSUMMARY01" in out and "posted" not in out
    queued = item_id(out)
    assert emu.calls_to("chat.postMessage") == []  # only queued: the running bot posts

    # --wait delivers it here and reports Slack's refusal.
    code, out = await cli("summary", "--week", "2026-W48", "--post", "--wait", "20")
    assert code == 1, out
    assert f"already queued (outbox item {queued})" in out
    assert "was not posted" in out and "channel_not_found" in out, out

    code, out = await cli("outbox", "list", "--dead")
    assert code == 0, out
    [row] = [line for line in out.splitlines() if line.strip().startswith(str(queued))]
    assert "dead" in row and "summary" in row and "channel_not_found" in row

    # Fixed in Slack; the operator puts the item back, the next wait sees it posted.
    emu.add_channel(SUMMARY_CHANNEL, is_member=True)
    code, out = await cli("outbox", "retry", str(queued))
    assert (code, out.strip()) == (0, f"leakbot outbox: item {queued}: queued again, due now")
    code, out = await cli("summary", "--week", "2026-W48", "--post", "--wait")
    assert code == 0, out
    assert "posted to CSUMMARY01 (ts " in out
    assert len(summary_posts(emu)) == 1
    # With its chart: drawn and uploaded once (before the refused post), the retry reused it.
    [(ts, file_id)] = emu.images_shown(SUMMARY_CHANNEL)
    assert f"(ts {ts})" in out
    assert len(emu.successful_calls_to("files.getUploadURLExternal")) == 1
    assert emu.uploaded_files()[file_id] is not None
    assert emu.files_shared() == []  # shown in the message, not shared as a file message

    code, out = await cli("summary", "--week", "2026-W48", "--post", "--wait")
    assert code == 0 and "already posted" in out, out
    assert len(summary_posts(emu)) == 1  # not twice

    code, out = await cli("outbox", "retry", str(queued))
    assert code == 2 and "already delivered; not sent twice" in out
    code, out = await cli("outbox", "list")
    assert (code, out.strip()) == (0, "leakbot outbox: no waiting or dead items")


async def test_a_week_whose_summary_died_can_be_posted_again(
    setup: tuple[Cli, SlackEmulator],
) -> None:
    cli, emu = setup
    code, out = await cli("summary", "--week", "2026-W47", "--post", "--wait", "20")
    assert code == 1 and "channel_not_found" in out, out
    dead = item_id(out)

    emu.add_channel(SUMMARY_CHANNEL, is_member=True)
    code, out = await cli("summary", "--week", "2026-W47", "--post", "--wait", "20")
    assert code == 0, out
    assert "queued for CSUMMARY01" in out and item_id(out) != dead
    assert "posted to CSUMMARY01" in out
    assert len(summary_posts(emu)) == 1

    # The dead copy stays dead: retrying it (alone or with every dead one) sends nothing.
    code, out = await cli("outbox", "retry", str(dead))
    assert code == 2 and "a newer message replaced it" in out, out
    code, out = await cli("outbox", "retry", "--dead")
    assert (code, out.strip()) == (0, "leakbot outbox: 0 dead item(s) queued again")
    code, out = await cli("outbox", "list", "--dead")
    assert str(dead) in out
    assert len(summary_posts(emu)) == 1


async def test_wait_gives_up_after_its_bound_and_leaves_the_summary_queued(
    setup: tuple[Cli, SlackEmulator],
) -> None:
    cli, emu = setup
    emu.add_channel(SUMMARY_CHANNEL, is_member=True)
    emu.fail_next("chat.postMessage", times=5, status=503)
    code, out = await cli("summary", "--week", "2026-W46", "--post", "--wait", "0.5")
    assert code == 1, out
    assert "still queued after 0.5 s" in out and "it stays queued" in out, out
    code, out = await cli("outbox", "list")
    assert "pending" in out and "summary" in out, out


async def test_post_and_the_outbox_in_japanese(
    setup: tuple[Cli, SlackEmulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same commands under `--lang ja` (and LEAKBOT_LANGUAGE=ja): every line Japanese; the
    prefixes, ids, week, channel, Slack's error code and the outbox's own values unchanged."""
    cli, _ = setup
    code, out = await cli("summary", "--week", "2026-W45", "--post", "--lang", "ja")
    assert code == 0, out
    found = re.search(r"送信キュー項目 (\d+)", out)
    assert found, out
    item = int(found.group(1))
    assert out.splitlines() == [
        f"leakbot: 週次サマリー 2026-W45 を CSUMMARY01 への送信キューに入れました"
        f"（送信キュー項目 {item}）",
        "leakbot: 稼働中の leakbot が投稿します。"
        "ここで Slack の応答を待つには --wait を付けてください",
    ]
    code, out = await cli("summary", "--week", "2026-W45", "--post", "--wait", "20", "--lang", "ja")
    assert code == 1, out
    assert out.splitlines()[-1] == (
        f"leakbot: 週次サマリー 2026-W45 を投稿できませんでした: channel_not_found（送信キュー項目 "
        f"{item}。原因を解消してから `leakbot outbox retry {item}` を実行してください）"
    )

    code, out = await cli("outbox", "list", "--dead", "--lang", "ja")
    assert code == 0, out
    header, row = out.splitlines()
    assert header == "leakbot outbox: 送信失敗の項目 1件（古い順）"
    assert re.fullmatch(
        rf"\s*{item}  dead\s+summary\s+-\s+試行\d+回、\d{{4}}-\d\d-\d\d \d\d:\d\d に登録"
        r"  直近のエラー: channel_not_found",
        row,
    ), row
    code, out = await cli("outbox", "retry", "999999", "--lang", "ja")
    assert (code, out.strip()) == (2, "leakbot outbox: 項目 999999: 該当する項目はありません")
    monkeypatch.setenv("LEAKBOT_LANGUAGE", "ja")  # no flag: the setting decides
    code, out = await cli("outbox", "retry", "--dead")
    assert (code, out.strip()) == (
        0,
        f"leakbot outbox: 送信失敗の項目 1件を送信キューに戻しました: {item}",
    )
    code, out = await cli("outbox", "list")
    assert (
        code == 0
        and out.splitlines()[0] == "leakbot outbox: 送信待ち・送信失敗の項目 1件（古い順）"
    )
    code, out = await cli("outbox", "list", "--lang", "en")
    assert out.splitlines()[0] == "leakbot outbox: 1 waiting or dead item(s), oldest first"
    assert re.search(r"\d+ attempt\(s\), next try \d{4}-\d\d-\d\d \d\d:\d\d", out), out
