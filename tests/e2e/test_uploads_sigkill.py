"""The real `leakbot run` process, SIGKILLed in the middle of a file upload and restarted.

Killed after the bytes were POSTed but before the file id was recorded, the restart uploads
again (Slack keeps the first upload private and unshared); killed after the file id was
recorded, the restart completes that file without uploading. Either way the thread gets the
document exactly once.

The weekly summary's chart likewise: the process posts last week's summary when it starts;
killed between the chart's upload and the post (or after the post, before recording it), the
restart gives exactly one summary message with the chart in it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from conftest import CHANNEL, REPORTER, SUMMARY_CHANNEL
from leakbot_process import free_port
from slackemu import SlackEmulator, SystemClock
from test_faults_sigkill import (
    WAIT,
    BotProcess,
    Driver,
    _incident_ids,
    fault_env,
    fault_workspace,
)

from bot.store import Store

# failpoint → how many uploads the thread's one file costs.
POINTS = {"outbox.file_uploaded=1": 2, "outbox.file_recorded=1": 1}


# failpoint → how many uploads the summary's one chart costs.
CHART_POINTS = {
    "outbox.chart_uploaded=1": 2,  # uploaded, not recorded: uploaded again (the first unshown)
    "outbox.chart_recorded=1": 1,  # recorded: the restart posts with that file
    "outbox.sent=1": 1,  # posted, not recorded: the restart finds the post (its metadata)
}


def _uploads(emu: SlackEmulator, suffix: str) -> list[Any]:
    """The files declared for upload whose names end with `suffix` (a document: ".md"; the
    summary's chart: ".png")."""
    return [
        call
        for call in emu.successful_calls_to("files.getUploadURLExternal")
        if str(call.args.get("filename")).endswith(suffix)
    ]


@pytest.mark.parametrize("failpoint", list(CHART_POINTS))
async def test_sigkill_around_the_summary_chart_posts_one_message_with_one_image(
    database_url: str, failpoint: str
) -> None:
    async with SlackEmulator(clock=SystemClock()) as emu:
        fault_workspace(emu)
        bot = BotProcess(fault_env(emu, database_url, free_port()))
        await bot.start(failpoint)  # posts last week's summary at once, and dies at the point
        try:
            assert await bot.wait_exit() == -9
            shown_before = emu.images_shown(SUMMARY_CHANNEL)
            assert len(shown_before) == (1 if failpoint.startswith("outbox.sent") else 0)
            await bot.start(None)
            # The restart posts (or, after an unknown outcome, finds its post), then stops
            # gracefully: the outbox finishes recording the call in flight.
            await emu.wait_for_call(
                "conversations.history" if shown_before else "chat.postMessage",
                where=lambda call: call.ok and call.args.get("channel") == SUMMARY_CHANNEL,
                timeout=WAIT,
            )
        finally:
            await bot.stop()
        item = await _summary_item(database_url)

        [message] = emu.messages(SUMMARY_CHANNEL)
        [(ts, file_id)] = emu.images_shown(SUMMARY_CHANNEL)
        assert message["ts"] == ts and item["status"] == "sent"
        assert item["result"]["ts"] == ts
        [image] = [b for b in message["blocks"] if b["type"] == "image"]
        # In the channel's language (Japanese by default), saying what the bars count.
        assert "報告されたインシデントの件数を週ごとに" in image["alt_text"]
        assert "当社の決定0件" in image["alt_text"] and "回答者" in image["alt_text"]
        assert (emu.uploaded_files()[file_id] or b"").startswith(b"\x89PNG")
        assert len(_uploads(emu, ".png")) == CHART_POINTS[failpoint]
        assert emu.files_shared() == []  # shown in the summary, never a file message of its own
        emu.assert_no_rejections()


async def _summary_item(database_url: str) -> dict[str, Any]:
    store = await Store.open(database_url)
    try:
        [item] = [i for i in await store.outbox_items() if i.kind == "summary"]
        return {"status": item.status, "result": dict(item.result or {})}
    finally:
        await store.close()


@pytest.mark.parametrize("failpoint", list(POINTS))
async def test_sigkill_during_an_upload_shares_the_file_once(
    database_url: str, failpoint: str
) -> None:
    port = free_port()
    async with SlackEmulator(clock=SystemClock()) as emu:
        fault_workspace(emu)
        bot = BotProcess(fault_env(emu, database_url, port))
        driver = Driver(emu, bot, port, [])
        await bot.start(failpoint)
        try:
            await driver.report(1)
            [incident_id] = await _incident_ids(database_url)

            def top_post(call: Any) -> bool:
                return (
                    call.ok
                    and call.args.get("channel") == CHANNEL
                    and not call.args.get("thread_ts")
                    and incident_id in str(call.args.get("text"))
                )

            posted = await asyncio.wait_for(
                emu.wait_for_call("chat.postMessage", where=top_post), WAIT
            )
            assert posted.response is not None
            ts = str(posted.response["ts"])
            before = len(emu.calls_to("views.open"))
            reply = await driver.slack.block_actions(
                "leak_docs", user_id=REPORTER, value=incident_id, channel_id=CHANNEL, message_ts=ts
            )
            assert reply.status == 200
            opened = await asyncio.wait_for(emu.wait_for_call("views.open", count=before + 1), WAIT)
            assert opened.response is not None
            reply = await driver.slack.view_submission(
                str(opened.response["view"]["id"]),
                user_id=REPORTER,
                answers={"doc_kind": "ppc_preliminary", "doc_lang": "ja", "doc_format": "md"},
            )
            assert reply.status == 200
            assert await bot.wait_exit() == -9  # killed at the failpoint, mid-upload
            assert emu.files_shared() == []
            assert len(_uploads(emu, ".md")) == 1

            await bot.start(None)
            await emu.wait_for_call(
                "files.completeUploadExternal",
                # The document's share (the summary's chart is completed without a channel).
                where=lambda c: c.ok and bool(c.args.get("channel_id")),
                timeout=WAIT,
            )
        finally:
            await bot.stop()
            await driver.slack.close()

        [shared] = emu.files_shared(CHANNEL, ts)
        assert shared["filename"] == f"ppc_preliminary-{incident_id}-ja.md"
        assert len(_uploads(emu, ".md")) == POINTS[failpoint]
        shares = [
            call
            for call in emu.successful_calls_to("files.completeUploadExternal")
            if call.args.get("channel_id")  # the summary's chart is completed without one
        ]
        assert len(shares) == 1
