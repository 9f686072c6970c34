"""The weekly summary's chart through the app and the Slack emulator (in-process, FakeClock).

One message with the image in it (an image block showing the uploaded file), the image's text
alternative in the channel's language; an upload that fails for a while is retried with the
summary; a chart that cannot be drawn, or that Slack will not take, leaves the summary text
only and logged — never lost. (SIGKILL around the upload: test_uploads_sigkill.py; dead and
retried by an operator: test_summary_post.py; two replicas: test_scheduler.py.)
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from conftest import SUMMARY_CHANNEL, Leakbot, manifest_scopes, start_leakbot, stop_leakbot
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slackemu import FakeClock, SlackEmulator

from bot.domain.summary import parse_week
from bot.scheduler import Scheduler
from bot.slack.blocks.summary import CHART_KEY, summary_message
from bot.store import Store
from bot.summary_chart import japanese_font

JST = ZoneInfo("Asia/Tokyo")
MONDAY_0900 = datetime(2026, 11, 30, 9, 0, tzinfo=JST)  # the Monday after 2026-W48
PNG = b"\x89PNG\r\n\x1a\n"


async def post_summary(bot: Leakbot) -> None:
    bot.clock.set(MONDAY_0900)
    assert await bot.app.scheduler.summary_due() is True
    await bot.deliver()


def errors_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def only_summary(emulator: SlackEmulator) -> dict[str, Any]:
    [message] = emulator.messages(SUMMARY_CHANNEL)
    return message


async def test_one_message_with_the_chart_in_it_worded_in_english(
    emulator: SlackEmulator, clock: FakeClock, database_url: str, store: Store
) -> None:
    bot = await start_leakbot(emulator, clock, database_url, LEAKBOT_LANGUAGE="en")
    try:
        incident = await bot.report()  # Thursday of 2026-W48, undecided
        await post_summary(bot)
    finally:
        await stop_leakbot(bot)
    message = only_summary(emulator)
    assert incident.id in str(message["blocks"])
    [(ts, file_id)] = emulator.images_shown(SUMMARY_CHANNEL)
    assert message["ts"] == ts
    image = message["blocks"][2]  # under the title and the "as of" line
    assert image["type"] == "image" and image["slack_file"] == {"id": file_id}
    assert image["alt_text"].startswith(
        "Chart of the weekly summary. Top: incidents reported each week from 2026-W37 to "
        "2026-W48 (12 weeks), bars stacked by decision; incidents in all: 1."
    )
    assert "(decisions: 0)" in image["alt_text"] and "respondents: " in image["alt_text"]
    [upload] = emulator.successful_calls_to("files.getUploadURLExternal")
    assert upload.args["filename"] == "leakbot-summary-2026-W48.png"
    assert upload.args["alt_txt"] == image["alt_text"]
    assert (emulator.uploaded_files()[file_id] or b"").startswith(PNG)
    # Completed without a channel: shown by the summary, not shared as a message of its own.
    [complete] = emulator.successful_calls_to("files.completeUploadExternal")
    assert "channel_id" not in complete.args
    assert emulator.files_shared() == []
    emulator.assert_no_rejections()


async def test_in_japanese_the_chart_says_so_and_a_missing_font_is_logged(
    leakbot: Leakbot, emulator: SlackEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    await post_summary(leakbot)
    [(_, file_id)] = emulator.images_shown(SUMMARY_CHANNEL)
    image = only_summary(emulator)["blocks"][2]
    assert image["slack_file"] == {"id": file_id}
    assert (
        image["title"]["text"] == "週ごとのインシデント（決定別）と、当社の決定・調査の回答の比較"
    )
    assert image["alt_text"].startswith("週次サマリーのグラフ。上: 2026-W37〜2026-W48（12週）")
    # Without a Japanese-capable font the chart is drawn with English labels, and says so.
    notes = [r.getMessage() for r in caplog.records if "English labels" in r.getMessage()]
    assert len(notes) == (0 if japanese_font() else 1), notes


async def test_an_upload_that_fails_for_a_while_is_retried_with_the_summary(
    leakbot: Leakbot, emulator: SlackEmulator
) -> None:
    emulator.fail_next("files.getUploadURLExternal", status=503)
    await post_summary(leakbot)
    assert emulator.messages(SUMMARY_CHANNEL) == []  # not yet: it waits for its chart
    leakbot.clock.advance(minutes=5)
    await leakbot.deliver()
    message = only_summary(emulator)
    [(ts, file_id)] = emulator.images_shown(SUMMARY_CHANNEL)
    assert message["ts"] == ts
    [upload] = emulator.successful_calls_to("files.getUploadURLExternal")
    assert upload.response is not None and upload.response["file_id"] == file_id


async def test_an_upload_that_keeps_failing_leaves_the_summary_text_only(
    leakbot: Leakbot, emulator: SlackEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.fail_next("files.getUploadURLExternal", times=3, status=503)
    await post_summary(leakbot)
    for _ in range(2):
        assert emulator.messages(SUMMARY_CHANNEL) == []
        leakbot.clock.advance(minutes=10)
        await leakbot.deliver()
    message = only_summary(emulator)  # the third try gives up on the chart, not the summary
    assert "2026-W48" in message["text"]
    assert emulator.images_shown(SUMMARY_CHANNEL) == []
    assert "the weekly summary's chart could not be uploaded; posting the summary without it" in (
        errors_logged(caplog)
    )


async def test_without_files_write_the_summary_goes_text_only_at_once(
    clock: FakeClock, database_url: str, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    scopes = tuple(scope for scope in manifest_scopes() if scope != "files:write")
    async with SlackEmulator(clock=clock, scopes=scopes) as emulator:
        bot = await start_leakbot(emulator, clock, database_url)
        try:
            await post_summary(bot)
        finally:
            await stop_leakbot(bot)
        only_summary(emulator)
        assert emulator.images_shown(SUMMARY_CHANNEL) == []
        [refused] = emulator.calls_to("files.getUploadURLExternal")
        assert not refused.ok
    assert any("chart could not be uploaded" in line for line in errors_logged(caplog))


async def test_an_image_slack_will_not_show_leaves_the_summary_text_only_in_the_end(
    leakbot: Leakbot, emulator: SlackEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.fail_next("chat.postMessage", status=503)  # uploaded and recorded, not posted
    await post_summary(leakbot)
    [upload] = emulator.successful_calls_to("files.getUploadURLExternal")
    assert upload.response is not None
    emulator.delete_file(str(upload.response["file_id"]))  # gone before the retry
    # The second try is refused: tried again (as when Slack has not processed a file yet).
    leakbot.clock.advance(minutes=10)
    await leakbot.deliver()
    assert emulator.messages(SUMMARY_CHANNEL) == []
    [refused] = [c for c in emulator.calls_to("chat.postMessage") if c.error == "invalid_blocks"]
    assert "invalid slack file" in str(refused.problems)
    leakbot.clock.advance(minutes=10)
    await leakbot.deliver()
    message = only_summary(emulator)  # the third (CHART_ATTEMPTS) posts without the image
    assert "2026-W48" in message["text"]
    assert emulator.images_shown(SUMMARY_CHANNEL) == []
    assert len(emulator.calls_to("files.getUploadURLExternal")) == 1  # the recorded file only
    assert "slack refused the summary's chart; posting the summary without it" in (
        errors_logged(caplog)
    )


async def test_a_chart_that_cannot_be_drawn_leaves_the_summary_text_only(
    leakbot: Leakbot, emulator: SlackEmulator, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    # The drawing process cannot read the playbook (gone since the start): it fails, logged.
    deps = leakbot.app.deps
    scheduler = Scheduler(
        deps.follow,
        deps.client,
        deps.playbook,
        JST,
        leakbot.clock,
        playbook_path=tmp_path / "gone" / "leak.yml",
    )
    leakbot.clock.set(MONDAY_0900)
    assert await scheduler.summary_due() is True
    await leakbot.deliver()
    message = only_summary(emulator)
    assert "2026-W48" in message["text"]
    assert emulator.images_shown(SUMMARY_CHANNEL) == []
    assert emulator.calls_to("files.getUploadURLExternal") == []
    [error] = [line for line in errors_logged(caplog) if "chart could not be drawn" in line]
    [record] = [r for r in caplog.records if r.getMessage() == error]
    assert "gone" in str(getattr(record, "error", "")), record.__dict__


async def test_an_unreadable_chart_in_the_item_leaves_the_summary_text_only(
    leakbot: Leakbot, emulator: SlackEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    week = parse_week("2026-W48", JST)
    leakbot.clock.set(MONDAY_0900)
    data = await leakbot.app.scheduler.build_summary(week, now=MONDAY_0900)
    chart = await leakbot.app.deps.follow.summary_chart(week)
    body = summary_message(leakbot.playbook, data, "ja", JST, chart, PNG)
    body[CHART_KEY]["png"] = "not base64!"
    assert await leakbot.app.deps.follow.post_summary(data, body) is True
    await leakbot.deliver()
    message = only_summary(emulator)
    assert "2026-W48" in message["text"] and CHART_KEY not in message
    assert emulator.images_shown(SUMMARY_CHANNEL) == []
    assert emulator.calls_to("files.getUploadURLExternal") == []
    assert any("chart is unreadable" in line for line in errors_logged(caplog))


async def test_the_emulator_shows_only_completed_images_it_issued(emulator: SlackEmulator) -> None:
    client = AsyncWebClient(token="xoxb-test", base_url=emulator.api_url)
    emulator.add_channel(SUMMARY_CHANNEL, is_member=True)

    async def upload(filename: str, *, complete: bool) -> str:
        answer = await client.files_getUploadURLExternal(filename=filename, length=len(PNG))
        async with (
            aiohttp.ClientSession() as session,
            session.post(str(answer["upload_url"]), data=PNG) as response,
        ):
            assert response.status == 200
        if complete:
            await client.files_completeUploadExternal(files=[{"id": str(answer["file_id"])}])
        return str(answer["file_id"])

    async def post_image(file_id: str) -> str:
        image = {"type": "image", "slack_file": {"id": file_id}, "alt_text": "a chart"}
        try:
            await client.chat_postMessage(channel=SUMMARY_CHANNEL, text="x", blocks=[image])
        except SlackApiError as exc:
            return f"{exc.response['error']}: {exc.response['errors']}"
        return "ok"

    refused = "invalid_blocks: ['invalid slack file [json-pointer:/blocks/0/slack_file]']"
    assert await post_image("F000000999") == refused  # never issued
    assert await post_image(await upload("chart.png", complete=False)) == refused  # not complete
    assert await post_image(await upload("notes.md", complete=True)) == refused  # not an image
    shown = await upload("chart.png", complete=True)
    assert await post_image(shown) == "ok"
    assert [file_id for _, file_id in emulator.images_shown(SUMMARY_CHANNEL)] == [shown]


async def test_a_stop_while_the_chart_is_drawn_queues_nothing_and_logs_no_error(
    leakbot: Leakbot, emulator: SlackEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.scheduler")
    scheduler = leakbot.app.scheduler
    leakbot.clock.set(MONDAY_0900)
    await scheduler.aclose(1)  # stopping: a drawing in progress is abandoned (its process killed)
    assert await scheduler.summary_due() is False
    assert await leakbot.app.deps.follow.summary_queued(parse_week("2026-W48", JST)) is False
    assert errors_logged(caplog) == []
    assert any("the next start queues it" in r.getMessage() for r in caplog.records)
    await leakbot.deliver()
    assert emulator.messages(SUMMARY_CHANNEL) == []
