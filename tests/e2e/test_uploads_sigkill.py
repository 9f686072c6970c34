"""The real `leakbot run` process, SIGKILLed in the middle of a file upload and restarted.

Killed after the bytes were POSTed but before the file id was recorded, the restart uploads
again (Slack keeps the first upload private and unshared); killed after the file id was
recorded, the restart completes that file without uploading. Either way the thread gets the
document exactly once.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest
from conftest import APPROVER_1, CHANNEL, GROUP, REPORTER, SECRET, SUMMARY_CHANNEL
from slackemu import SlackEmulator, SystemClock
from test_faults_sigkill import WAIT, BotProcess, Driver, _free_port, _incident_ids

# failpoint → how many uploads the thread's one file costs.
POINTS = {"outbox.file_uploaded=1": 2, "outbox.file_recorded=1": 1}


@pytest.mark.parametrize("failpoint", list(POINTS))
async def test_sigkill_during_an_upload_shares_the_file_once(
    database_url: str, failpoint: str
) -> None:
    port = _free_port()
    async with SlackEmulator(clock=SystemClock()) as emu:
        emu.add_user(REPORTER, locale="ja-JP")
        emu.add_user(APPROVER_1, locale="ja-JP")
        emu.add_usergroup(GROUP, [])
        emu.add_channel(CHANNEL, is_member=True)
        emu.add_channel(SUMMARY_CHANNEL, is_member=True)
        env = {
            **{
                k: v
                for k, v in os.environ.items()
                if not k.startswith(("SLACK_", "LEAKBOT_", "DATABASE_URL"))
            },
            "SLACK_BOT_TOKEN": "xoxb-fault-test",
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": emu.api_url,
            "DATABASE_URL": database_url,
            "LEAKBOT_ESCALATION_CHANNEL": CHANNEL,
            "LEAKBOT_SUMMARY_CHANNEL": SUMMARY_CHANNEL,
            "LEAKBOT_APPROVERS": f"{APPROVER_1},{GROUP}",
            "PORT": str(port),
        }
        bot = BotProcess(env)
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
            assert len(emu.uploaded_files()) == 1

            await bot.start(None)
            await asyncio.wait_for(
                emu.wait_for_call("files.completeUploadExternal", where=lambda c: c.ok), WAIT
            )
        finally:
            await bot.stop()
            await driver.slack.close()

        [shared] = emu.files_shared(CHANNEL, ts)
        assert shared["filename"] == f"ppc_preliminary-{incident_id}-ja.md"
        assert len(emu.calls_to("files.getUploadURLExternal")) == POINTS[failpoint]
        assert len([c for c in emu.calls_to("files.completeUploadExternal") if c.ok]) == 1
