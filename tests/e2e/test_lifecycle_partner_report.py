"""The partner's report as an event (issue 12): marking it done asks how it was; an
insufficient or missing report re-assesses with a partner response never milder than the one
known, and the reporter's answers stay as they were. Signed requests, the emulator, both
databases, the FakeClock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from conftest import APPROVER_1, APPROVER_2, CHANNEL, MILD_STEPS, REPORTER, STRANGER, Leakbot
from e2e_support import actions_blocks, incident, recommendation, text_of

from bot.domain.vocabulary import OPTION_KEYS
from bot.store import IncidentRecord, TaskRecord

pytestmark = pytest.mark.usefixtures("no_rejections")


async def answer_of(bot: Leakbot, reply_url: str | None, count: int) -> list[dict[str, Any]]:
    await bot.emulator.wait_for_call("response_url", count=count)
    await bot.deliver()
    return bot.emulator.responses(reply_url or "")


async def decide(bot: Leakbot, record: IncidentRecord, *approvers: str) -> IncidentRecord:
    for user in approvers:
        before = len(bot.emulator.calls_to("response_url"))
        reply = await bot.slack.block_actions(
            "leak_approve",
            user_id=user,
            channel_id=CHANNEL,
            message_ts=str(recommendation(bot.emulator, record.id)["ts"]),
        )
        assert reply.status == 200
        await answer_of(bot, reply.response_url, before + 1)
    stored = await incident(bot.store, record.id)
    assert stored.status == "decided", stored
    return stored


async def mark_done(bot: Leakbot, record: IncidentRecord, task: TaskRecord, user: str) -> Any:
    """Press the task's Done button; returns the ephemeral answer (text and blocks)."""
    thread = [
        m
        for m in bot.emulator.messages(CHANNEL)
        if m.get("thread_ts")
        and any(
            (b.get("accessory") or {}).get("value") == str(task.id) for b in m.get("blocks") or []
        )
    ]
    [message] = thread
    block_id = next(
        b["block_id"]
        for b in message["blocks"]
        if (b.get("accessory") or {}).get("value") == str(task.id)
    )
    before = len(bot.emulator.calls_to("response_url"))
    reply = await bot.slack.block_actions(
        "leak_task_done",
        user_id=user,
        channel_id=CHANNEL,
        message_ts=str(message["ts"]),
        block_id=block_id,
    )
    assert reply.status == 200
    [body] = await answer_of(bot, reply.response_url, before + 1)
    return body


async def answer_quality(bot: Leakbot, question: dict[str, Any], quality: str, user: str) -> str:
    """Press one of the question's buttons (in the ephemeral message the user sees)."""
    before = len(bot.emulator.calls_to("response_url"))
    reply = await bot.slack.block_actions(
        f"leak_report_{quality}",
        user_id=user,
        channel_id=CHANNEL,
        message={**question, "ts": "1767225600.000100"},
        message_ts="1767225600.000100",
        is_ephemeral=True,
    )
    assert reply.status == 200
    bodies = await answer_of(bot, reply.response_url, before + 1)
    return " ".join(str(b.get("text") or "") for b in bodies)


async def partner_task(bot: Leakbot, record: IncidentRecord, ref: str) -> TaskRecord:
    return next(
        t for t in await bot.store.tasks_for(record.id) if t.ref == ref and t.round == record.round
    )


async def test_an_insufficient_report_after_concealing_stays_at_least_as_severe(
    leakbot: Leakbot,
) -> None:
    emu = leakbot.emulator
    record = await leakbot.report(REPORTER)  # partner_response: concealing
    assert record.answers["partner_response"] == "concealing"
    first = await decide(leakbot, record, APPROVER_1, APPROVER_2)
    task = await partner_task(leakbot, first, "partner_report")
    leakbot.clock.advance(days=3)

    question = await mark_done(leakbot, first, task, REPORTER)
    assert "完了にしました" in question["text"] and "どうでしたか" in question["text"]
    [buttons] = actions_blocks(question)
    assert [e["action_id"] for e in buttons["elements"]] == [
        "leak_report_sufficient",
        "leak_report_insufficient",
        "leak_report_missing",
    ]
    assert (await leakbot.store.get_task(task.id)).status == "done"  # type: ignore[union-attr]

    # A stranger cannot answer it.
    answer = await answer_quality(leakbot, question, "insufficient", STRANGER)
    assert "Only the reporter" in answer
    assert (await incident(leakbot.store, record.id)).round == 1

    answer = await answer_quality(leakbot, question, "insufficient", REPORTER)
    assert "再評価しました" in answer, answer
    after = await incident(leakbot.store, record.id)
    assert (after.status, after.round) == ("pending", 2)
    # Never milder than the concealing case's recommendation.
    assert OPTION_KEYS.index(after.recommendation) >= OPTION_KEYS.index(first.recommendation)  # type: ignore[arg-type]
    # The reporter's answer is kept; the observation is beside it.
    assert after.answers == first.answers
    assert after.assessment["observed"] == {
        "partner_response": "concealing",
        "report_quality": "insufficient",
    }
    trail = await leakbot.store.audit_trail(record.id)
    received = [e for e in trail if e.action == "partner_report.received"]
    assert [(e.actor_id, e.after) for e in received] == [
        (REPORTER, {"task": task.id, "ref": "partner_report", "report_quality": "insufficient"})
    ]
    [reopened] = [e for e in trail if e.action == "incident.reopened"]
    assert reopened.actor_id == REPORTER
    assert reopened.after["reason"] == "partner_report_insufficient"
    assert reopened.after["reported"] == {"partner_response": "concealing"}
    assert reopened.after["observed"]["partner_response"] == "concealing"

    # The channel: a note in the old thread naming the response used, a new message to decide.
    notes = [m for m in emu.messages(CHANNEL) if "受領したが不十分" in str(m.get("text"))]
    assert len(notes) == 1 and "隠ぺい" in notes[0]["text"], notes
    assert after.message_ts is not None and after.message_ts != first.message_ts
    assert actions_blocks(emu.message(CHANNEL, after.message_ts))
    # Answering again (a second click) changes nothing.
    answer = await answer_quality(leakbot, question, "missing", REPORTER)
    assert "記録済み" in answer
    assert (await incident(leakbot.store, record.id)).round == 2

    # The follow-through's missed-report pass does not re-assess this round again either.
    leakbot.clock.advance(days=30)
    await leakbot.app.scheduler.follow_through()
    assert (await incident(leakbot.store, record.id)).round == 2


async def test_a_missed_report_after_concealing_keeps_concealing(leakbot: Leakbot) -> None:
    record = await leakbot.report(REPORTER)
    first = await decide(leakbot, record, APPROVER_1, APPROVER_2)
    task = await partner_task(leakbot, first, "partner_report")
    assert task.due_at is not None
    leakbot.clock.set(task.due_at + timedelta(minutes=1))
    await leakbot.app.scheduler.follow_through()
    await leakbot.deliver()
    after = await incident(leakbot.store, record.id)
    assert after.round == 2
    assert after.assessment["observed"]["partner_response"] == "concealing"  # not "slow"
    assert after.answers["partner_response"] == "concealing"
    assert OPTION_KEYS.index(after.recommendation) >= OPTION_KEYS.index(first.recommendation)  # type: ignore[arg-type]
    note = [
        text_of(m)
        for m in leakbot.emulator.messages(CHANNEL)
        if "届きませんでした" in str(m.get("text"))
    ]
    assert len(note) == 1 and "隠ぺい" in note[0]


async def test_a_sufficient_report_is_recorded_without_a_new_round(leakbot: Leakbot) -> None:
    record = await leakbot.report(REPORTER, MILD_STEPS)
    first = await decide(leakbot, record, APPROVER_1)
    task = await partner_task(leakbot, first, "partner_report")
    question = await mark_done(leakbot, first, task, REPORTER)
    answer = await answer_quality(leakbot, question, "sufficient", REPORTER)
    assert "受領 — 十分" in answer, answer
    after = await incident(leakbot.store, record.id)
    assert (after.status, after.round) == ("decided", 1)
    received = [
        e.after
        for e in await leakbot.store.audit_trail(record.id)
        if e.action == "partner_report.received"
    ]
    assert received == [{"task": task.id, "ref": "partner_report", "report_quality": "sufficient"}]
