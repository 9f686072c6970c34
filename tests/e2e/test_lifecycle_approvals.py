"""Approvals over an incident's life (issue 12): a stale button is refused, the second level
decides once the incident has escalated to it. Signed requests, the emulator, both databases;
time moves only with the FakeClock and the follow-through pass is called directly."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest
from conftest import (
    APPROVER_1,
    APPROVER_2,
    CHANNEL,
    MILD_STEPS,
    REPORTER,
    SECOND_LEVEL,
    T0,
    Leakbot,
    start_leakbot,
    stop_leakbot,
)
from db_reads import approvals_of
from e2e_support import actions_blocks, dm_posts, incident, recommendation

from bot.store import IncidentRecord

pytestmark = pytest.mark.usefixtures("no_rejections")


async def run_follow_through(bot: Leakbot) -> None:
    await bot.app.scheduler.follow_through()
    await bot.deliver()


async def click(
    bot: Leakbot, message: dict[str, Any], action_id: str, user_id: str, **kwargs: Any
) -> str:
    """Click a control of `message` as the user saw it; returns the ephemeral answer."""
    before = len(bot.emulator.calls_to("response_url"))
    reply = await bot.slack.block_actions(
        action_id,
        user_id=user_id,
        channel_id=CHANNEL,
        message_ts=str(message["ts"]),
        message=message,
        **kwargs,
    )
    assert reply.status == 200, reply.text
    await bot.emulator.wait_for_call("response_url", count=before + 1)
    await bot.deliver()
    return " ".join(
        str(body.get("text") or "") for body in bot.emulator.responses(reply.response_url or "")
    )


async def decided(bot: Leakbot, record: IncidentRecord, *approvers: str) -> IncidentRecord:
    for user in approvers:
        await click(bot, recommendation(bot.emulator, record.id), "leak_approve", user)
    stored = await incident(bot.store, record.id)
    assert stored.status == "decided", stored
    return stored


async def to_round_two(bot: Leakbot, record: IncidentRecord) -> IncidentRecord:
    """Decide, then let the partner's report pass its due time: a new round waits."""
    await decided(bot, record, APPROVER_1)
    [task] = [t for t in await bot.store.tasks_for(record.id) if t.ref == "partner_report"]
    assert task.due_at is not None
    bot.clock.set(task.due_at + timedelta(minutes=1))
    await run_follow_through(bot)
    reopened = await incident(bot.store, record.id)
    assert (reopened.status, reopened.round) == ("pending", 2)
    return reopened


async def test_a_round_one_click_after_the_reassessment_is_refused(leakbot: Leakbot) -> None:
    emu = leakbot.emulator
    record = await leakbot.report(REPORTER, MILD_STEPS)
    # The round-1 message as an approver still has it on screen (buttons live).
    seen = copy.deepcopy(recommendation(emu, record.id))
    [controls] = actions_blocks(seen)
    approve = next(e for e in controls["elements"] if e["action_id"] == "leak_approve")
    assert approve["value"] == f"{record.id}:1:{record.recommendation}"
    assert controls["block_id"] == f"leak_decision:{record.id}:1"
    round2 = await to_round_two(leakbot, record)
    audit_before = len(await leakbot.store.audit_trail(record.id))

    answer = await click(leakbot, seen, "leak_approve", APPROVER_2)
    assert "古くなっています" in answer and "最新のメッセージ" in answer, answer
    assert "何も記録していません" in answer
    answer = await click(leakbot, seen, "leak_choose", APPROVER_2, selected_option="request_report")
    assert "古くなっています" in answer, answer
    answer = await click(leakbot, seen, "leak_reject", APPROVER_2)
    assert "古くなっています" in answer, answer
    assert len(emu.calls_to("views.open")) == 1  # no reason modal (the first was the intake)

    # Nothing recorded: no vote, no audit row, still waiting for round 2's decision.
    assert await approvals_of(leakbot.store, record.id, 2) == []
    assert len(await leakbot.store.audit_trail(record.id)) == audit_before
    after = await incident(leakbot.store, record.id)
    assert (after.status, after.round, after.decided_by) == ("pending", 2, ())

    assert round2.message_ts is not None
    current = emu.message(CHANNEL, round2.message_ts)
    [controls] = actions_blocks(current)
    assert controls["block_id"] == f"leak_decision:{record.id}:2"
    # The current message's button works.
    answer = await click(leakbot, current, "leak_approve", APPROVER_2)
    assert "決定しました" in answer, answer
    final = await incident(leakbot.store, record.id)
    assert (final.status, final.round, final.decided_by) == ("decided", 2, (APPROVER_2,))


async def test_a_stale_click_in_english(leakbot: Leakbot) -> None:
    emu = leakbot.emulator
    emu.add_user("UAPPROVEN1", locale="en-US")
    record = await leakbot.report(REPORTER, MILD_STEPS)
    seen = copy.deepcopy(recommendation(emu, record.id))
    await to_round_two(leakbot, record)
    bot = await start_leakbot(
        emu,
        leakbot.clock,
        leakbot.app.deps.settings.DATABASE_URL,
        LEAKBOT_APPROVERS=f"{APPROVER_1},UAPPROVEN1",
    )
    try:
        answer = await click(bot, seen, "leak_approve", "UAPPROVEN1")
    finally:
        await stop_leakbot(bot)
    assert "This message is out of date" in answer and "see the latest message" in answer
    assert "Nothing was recorded" in answer


async def test_second_level_decides_once_escalated_to_it(escalating: Leakbot) -> None:
    bot = escalating
    emu = bot.emulator
    record = await bot.report(REPORTER, MILD_STEPS)
    message = recommendation(emu, record.id)
    # Before the escalation the second level is no approver.
    answer = await click(bot, message, "leak_approve", SECOND_LEVEL)
    assert "承認者" in answer and "何も変更していません" in answer, answer
    assert await approvals_of(bot.store, record.id) == []

    # First step: the approvers are reminded (the second level still may not decide).
    timeout = bot.playbook.approval.timeout_for(record.recommendation)  # type: ignore[arg-type]
    bot.clock.set(T0 + timedelta(hours=timeout, minutes=1))
    await run_follow_through(bot)
    answer = await click(bot, message, "leak_approve", SECOND_LEVEL)
    assert "何も変更していません" in answer, answer

    # Second step: the second level hears of it, is told it may decide, and does.
    bot.clock.set(T0 + timedelta(hours=2 * timeout, minutes=1))
    await run_follow_through(bot)
    [dm] = dm_posts(emu, SECOND_LEVEL)
    assert (
        record.id in dm.args["text"]
        and "二次承認者はこのインシデントのメッセージから承認" in (dm.args["text"])
    )
    answer = await click(bot, message, "leak_approve", SECOND_LEVEL)
    assert "決定しました" in answer, answer
    final = await incident(bot.store, record.id)
    assert (final.status, final.decided_by) == ("decided", (SECOND_LEVEL,))
    trail = [(e.action, e.actor_id) for e in await bot.store.audit_trail(record.id)]
    assert ("approval.recorded", SECOND_LEVEL) in trail
    assert ("incident.decided", SECOND_LEVEL) in trail
    assert trail.count(("approval.refused", SECOND_LEVEL)) == 2
