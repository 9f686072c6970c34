"""LEAKBOT_INCIDENT_CHANNELS=private (issue 12, item 5): on decision, a private channel per
incident with its people, the incident and its tasks posted there, a link from the escalation
message. Signed requests, the emulator, both databases, the FakeClock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from conftest import (
    APPROVER_1,
    APPROVER_2,
    APPROVER_3,
    CHANNEL,
    MILD_STEPS,
    REPORTER,
    Leakbot,
    manifest_scopes,
    running_leakbot,
    start_leakbot,
    stop_leakbot,
)
from e2e_support import incident, recommendation
from slackemu import FakeClock, SlackEmulator

from bot.domain.channel_names import incident_channel_name
from bot.slack.ids import ActionId
from bot.store import IncidentRecord, Store

pytestmark = pytest.mark.usefixtures("no_rejections")

# What README's set-up step 5 says to add to manifest.yml for this setting.
PRIVATE_CHANNEL_SCOPES = ("groups:write", "groups:read")
PRIVATE = {"LEAKBOT_INCIDENT_CHANNELS": "private"}


@pytest.fixture
async def private_bot(
    emulator: SlackEmulator, clock: FakeClock, database_url: str, store: Store
) -> AsyncIterator[Leakbot]:
    # The workspace granted the manifest's scopes plus the optional two.
    emulator.scopes = [*manifest_scopes(), *PRIVATE_CHANNEL_SCOPES]
    async with running_leakbot(emulator, clock, database_url, **PRIVATE) as bot:
        yield bot


async def approve(bot: Leakbot, record: IncidentRecord, *users: str) -> IncidentRecord:
    for user in users:
        message = recommendation(bot.emulator, record.id)
        before = len(bot.emulator.calls_to("response_url"))
        reply = await bot.slack.block_actions(
            "leak_approve", user_id=user, channel_id=CHANNEL, message_ts=str(message["ts"])
        )
        assert reply.status == 200, reply.text
        await bot.emulator.wait_for_call("response_url", count=before + 1)
        await bot.deliver()
    stored = await incident(bot.store, record.id)
    assert stored.status == "decided"
    return stored


def task_buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The Done buttons of a tasks message (each a section's accessory)."""
    return [
        block["accessory"]
        for block in message.get("blocks") or []
        if (block.get("accessory") or {}).get("action_id") == ActionId.TASK_DONE
    ]


def has_task_buttons(message: dict[str, Any]) -> bool:
    return bool(task_buttons(message))


def thread_replies(emu: SlackEmulator, parent_ts: str) -> list[dict[str, Any]]:
    return [
        m for m in emu.messages(CHANNEL) if m.get("thread_ts") == parent_ts and m["ts"] != parent_ts
    ]


async def test_decision_creates_one_private_channel_with_its_people(private_bot: Leakbot) -> None:
    bot, emu = private_bot, private_bot.emulator
    record = await bot.report(REPORTER, MILD_STEPS)
    assert emu.successful_calls_to("conversations.create") == []  # nothing before the decision
    decided = await approve(bot, record, APPROVER_1)

    name = f"{record.id.lower()}-globex-inc"
    assert incident_channel_name(record.id, record.partner) == name
    [create] = emu.successful_calls_to("conversations.create")
    assert create.args["name"] == name and create.args["is_private"] in (True, "true", "1")
    channel = emu.channel_named(name)
    assert channel is not None and channel["is_private"]
    owners = {task.owner_id for task in await bot.store.tasks_for(record.id) if task.owner_id}
    assert owners  # the decision made tasks with owners
    # The reporter, the approvers (APPROVER_2 and _3 through the user group), the task owners.
    assert {REPORTER, APPROVER_1, APPROVER_2, APPROVER_3} | owners <= set(channel["members"])

    # The incident's summary and its tasks are in the private channel...
    inside = emu.messages(channel["id"])
    assert len(inside) == 2
    assert record.id in str(inside[0].get("text")) and not inside[0].get("thread_ts")
    assert has_task_buttons(inside[1])
    # ...and the escalation thread links it instead of listing the tasks.
    parent = recommendation(emu, record.id)
    replies = thread_replies(emu, str(parent["ts"]))
    assert not any(has_task_buttons(m) for m in replies)
    [link] = [m for m in replies if f"<#{channel['id']}>" in str(m.get("text"))]
    assert record.id in str(link["text"])
    items = await bot.store.outbox_items(record.id)
    assert {i.status for i in items} == {"sent"}, [(i.kind, i.last_error) for i in items]

    # Ticking a task updates the tasks message where it is: in the private channel.
    assert decided.status == "decided"
    tasks_message = inside[1]
    [first_task] = [b for b in tasks_message["blocks"] if b.get("accessory")][:1]
    before = len(emu.calls_to("response_url"))
    reply = await bot.slack.block_actions(
        ActionId.TASK_DONE,
        user_id=APPROVER_1,
        channel_id=channel["id"],
        message_ts=str(tasks_message["ts"]),
        message=tasks_message,
        block_id=first_task["block_id"],
    )
    assert reply.status == 200, reply.text
    await emu.wait_for_call("response_url", count=before + 1)
    await bot.deliver()
    updates = [
        c for c in emu.successful_calls_to("chat.update") if c.args.get("channel") == channel["id"]
    ]
    assert [c.args["ts"] for c in updates] == [inside[1]["ts"]]


async def test_a_japanese_partner_name_gives_the_id_alone(private_bot: Leakbot) -> None:
    bot, emu = private_bot, private_bot.emulator
    record = await bot.report(REPORTER)  # 株式会社アクメ; suspension: two approvers
    await approve(bot, record, APPROVER_1, APPROVER_2)
    [create] = emu.successful_calls_to("conversations.create")
    assert create.args["name"] == record.id.lower()  # e.g. leak-2026-0001
    assert emu.channel_named(record.id.lower()) is not None


async def test_a_channel_created_before_a_crash_is_found_not_duplicated(
    private_bot: Leakbot,
) -> None:
    """An earlier attempt created the channel but stopped before recording it: `name_taken`,
    found again with conversations.list, invited, recorded as created."""
    bot, emu = private_bot, private_bot.emulator
    record = await bot.report(REPORTER, MILD_STEPS)
    name = incident_channel_name(record.id, record.partner)
    for n in range(250):  # more than one page of conversations.list
        emu.add_channel(f"CFILL{n:04d}", name=f"other-{n}", is_private=True)
    emu.add_channel("CEARLIER01", name=name, is_private=True, members=[emu.workspace.bot_user_id])
    await approve(bot, record, APPROVER_1)

    [refused] = emu.calls_to("conversations.create")
    assert refused.response is not None and refused.response["error"] == "name_taken"
    assert len(emu.successful_calls_to("conversations.list")) >= 2  # paginated
    [invite] = emu.successful_calls_to("conversations.invite")
    assert invite.args["channel"] == "CEARLIER01"
    assert REPORTER in str(invite.args["users"]).split(",")
    assert len(emu.messages("CEARLIER01")) == 2


async def test_setting_off_changes_nothing(leakbot: Leakbot) -> None:
    emu = leakbot.emulator
    record = await leakbot.report(REPORTER, MILD_STEPS)
    await approve(leakbot, record, APPROVER_1)
    assert emu.calls_to("conversations.create") == []
    assert emu.calls_to("conversations.invite") == []
    parent = recommendation(emu, record.id)
    replies = thread_replies(emu, str(parent["ts"]))
    assert [m for m in replies if has_task_buttons(m)]  # the tasks are in the thread
    assert not any("<#" in str(m.get("text")) for m in replies)


async def test_two_replicas_create_the_channel_once(
    emulator: SlackEmulator, clock: FakeClock, database_url: str, store: Store
) -> None:
    emulator.scopes = [*manifest_scopes(), *PRIVATE_CHANNEL_SCOPES]
    first = await start_leakbot(emulator, clock, database_url, **PRIVATE)
    second = await start_leakbot(emulator, clock, database_url, **PRIVATE)
    try:
        record = await first.report(REPORTER, MILD_STEPS)
        message = recommendation(emulator, record.id)
        reply = await first.slack.block_actions(
            "leak_approve", user_id=APPROVER_1, channel_id=CHANNEL, message_ts=str(message["ts"])
        )
        assert reply.status == 200, reply.text
        await emulator.wait_for_call("response_url", count=1)
        # Both replicas' outboxes deliver at the same time, and the follow-through of both
        # repairs the decision's follow-up (which would enqueue it again).
        await asyncio.gather(first.deliver(), second.deliver())
        await second.app.deps.follow.run()
        await asyncio.gather(first.deliver(), second.deliver())
    finally:
        await stop_leakbot(second)
        await stop_leakbot(first)
    assert len(emulator.calls_to("conversations.create")) == 1
    assert len(emulator.successful_calls_to("conversations.invite")) == 1
    channel = emulator.channel_named(incident_channel_name(record.id, record.partner))
    assert channel is not None
    inside = emulator.messages(channel["id"])
    assert len(inside) == 2  # one summary, one tasks message
    links = [m for m in emulator.messages(CHANNEL) if f"<#{channel['id']}>" in str(m.get("text"))]
    assert len(links) == 1


async def test_a_missing_scope_marks_the_channel_dead_and_the_tasks_stay_in_the_thread(
    emulator: SlackEmulator, clock: FakeClock, database_url: str, store: Store, caplog: Any
) -> None:
    # Only manifest.yml's scopes: groups:write was not added.
    bot = await start_leakbot(emulator, clock, database_url, **PRIVATE)
    try:
        record = await bot.report(REPORTER, MILD_STEPS)
        await approve(bot, record, APPROVER_1)
        clock.advance(hours=2)
        await bot.deliver()  # nothing is retried
        items = {i.kind: i for i in await bot.store.outbox_items(record.id)}
    finally:
        await stop_leakbot(bot)
    [refused] = emulator.calls_to("conversations.create")
    assert refused.response is not None and refused.response["error"] == "missing_scope"
    channel_item = items["incident_channel"]
    assert channel_item.status == "dead" and channel_item.attempts == 1
    assert channel_item.last_error is not None
    assert "groups:write" in channel_item.last_error
    assert "LEAKBOT_INCIDENT_CHANNELS" in channel_item.last_error
    assert any(
        r.getMessage() == "slack call failed permanently"
        and "groups:write" in str(getattr(r, "error", ""))
        for r in caplog.records
    )
    # The tasks fell back to the escalation thread; nothing about a channel was posted.
    assert items["tasks"].status == "sent"
    parent = recommendation(emulator, record.id)
    assert [m for m in thread_replies(emulator, str(parent["ts"])) if has_task_buttons(m)]
    assert items["channel_link"].status == "dead"
    assert items["channel_summary"].status == "dead"
