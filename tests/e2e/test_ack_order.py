"""No Slack call before the ack: `/leak list`, `/leak status` and the send-back modal answer Slack
first and look up the user's locale (users.info) and the approvers (usergroups.users.list)
afterwards, so a slow Slack API cannot push the ack past Slack's 3 seconds.

The emulator holds each look-up's answer until the test has received the app's ack: an app that
looks up first would wait for an ack it has not sent. Nothing sleeps.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from conftest import (
    APPROVER_2,
    APPROVER_3,
    GROUP,
    MILD_STEPS,
    REPORTER,
    REPORTER_EN,
    Leakbot,
    start_leakbot,
    stop_leakbot,
)
from e2e_support import text_of
from slackemu import FakeClock, SlackEmulator

from bot.store import Store

HOLD = 10.0  # seconds a look-up waits for the ack before it gives up: a bound, never a sleep


@pytest.fixture
async def ordered(
    emulator: SlackEmulator, clock: FakeClock, database_url: str, store: Store
) -> AsyncIterator[tuple[Leakbot, list[str], asyncio.Event]]:
    """leakbot whose Slack look-ups are held back by the emulator until the test has received
    the app's HTTP answer (the ack): an app that looks up before it acks never gets its answer
    in time, and the events say so."""
    events: list[str] = []
    acked = asyncio.Event()
    locales = {REPORTER: "ja-JP", REPORTER_EN: "en-US"}

    async def held(method: str) -> None:
        events.append(method)
        try:
            await asyncio.wait_for(acked.wait(), HOLD)
        except TimeoutError:
            events.append(f"{method} held the ack back")

    async def users_info(args: dict[str, Any]) -> dict[str, Any]:
        await held("users.info")
        user = str(args.get("user"))
        return {"user": {"id": user, "name": user, "locale": locales.get(user, "ja-JP")}}

    async def group_members(args: dict[str, Any]) -> dict[str, Any]:
        await held("usergroups.users.list")
        assert args.get("usergroup") == GROUP
        return {"users": [APPROVER_2, APPROVER_3]}

    emulator.register_method("users.info", users_info)
    emulator.register_method("usergroups.users.list", group_members)
    bot = await start_leakbot(emulator, clock, database_url, store=store)
    try:
        yield bot, events, acked
    finally:
        await stop_leakbot(bot)


@pytest.mark.parametrize(
    ("text", "user_id", "expected"),
    [
        ("list", REPORTER_EN, "No incidents (open)."),
        ("list", REPORTER, "該当するインシデント（対応中）はありません。"),
        ("status LEAK-2026-0001", REPORTER_EN, "LEAK-2026-0001"),
        ("help", REPORTER_EN, "How to use leakbot"),
    ],
)
async def test_commands_ack_before_any_slack_lookup(
    ordered: tuple[Leakbot, list[str], asyncio.Event], text: str, user_id: str, expected: str
) -> None:
    bot, events, acked = ordered
    before = len(bot.emulator.calls_to("response_url"))
    reply = await bot.slack.slash_command("/leak", text, user_id=user_id)
    events.append("ack")
    acked.set()
    assert reply.status == 200 and reply.text == "", reply.text
    await bot.emulator.wait_for_call("response_url", count=before + 1, timeout=HOLD + 5)
    assert not [e for e in events if e.endswith("held the ack back")], events
    # The look-up happened (it was asked while the ack was on its way), and the answer that
    # followed is in the user's language.
    assert "users.info" in events, events
    [answer] = bot.emulator.responses(reply.response_url or "")
    assert expected in text_of(answer), text_of(answer)


async def _reject_modal(bot: Leakbot, approver: str) -> tuple[str, str]:
    """A pending incident and the send-back modal its approver opened: (incident id, view id)."""
    record = await bot.report(REPORTER, MILD_STEPS)
    opened_before = len(bot.emulator.calls_to("views.open"))
    await bot.click(record, "leak_reject", approver, value=record.id)
    opened = await bot.emulator.wait_for_call("views.open", count=opened_before + 1)
    assert opened.ok and opened.response is not None
    return record.id, str(opened.response["view"]["id"])


async def test_the_send_back_modal_answers_without_any_slack_lookup(
    ordered: tuple[Leakbot, list[str], asyncio.Event],
) -> None:
    bot, events, acked = ordered
    acked.set()  # the set-up's look-ups answer at once
    incident_id, view_id = await _reject_modal(bot, APPROVER_2)  # an approver through the group
    # Two hours later every cache is past its time: the submission still asks Slack nothing
    # before it answers (the modal's language, the approvers as last known).
    bot.clock.advance(hours=2)
    acked.clear()
    events.clear()
    reply = await bot.slack.view_submission(
        view_id, user_id=APPROVER_2, answers={"reason": "wrong partner"}
    )
    assert reply.json == {"response_action": "clear"}, reply.text
    assert events == []
    record = await bot.store.get_incident(incident_id)
    assert record is not None and record.status == "rejected"


async def test_the_send_back_modal_on_a_replica_that_knows_no_approvers_yet(
    ordered: tuple[Leakbot, list[str], asyncio.Event],
) -> None:
    """Nothing known (a restart since the modal opened): the modal is closed first, then the
    group is looked up and the incident sent back; a refusal comes as an ephemeral message."""
    bot, events, acked = ordered
    acked.set()
    incident_id, view_id = await _reject_modal(bot, APPROVER_2)
    bot.app.deps.approvers._cache.clear()
    acked.clear()
    events.clear()
    sent_back = bot.app.deps.outbox._wake  # set when the rejection has queued its messages
    sent_back.clear()
    reply = await bot.slack.view_submission(
        view_id, user_id=APPROVER_2, answers={"reason": "wrong partner"}
    )
    acked.set()
    assert reply.json == {"response_action": "clear"}, reply.text
    await asyncio.wait_for(sent_back.wait(), HOLD + 5)
    assert events == ["usergroups.users.list"], events  # asked, and not holding the ack back
    record = await bot.store.get_incident(incident_id)
    assert record is not None and record.status == "rejected"
