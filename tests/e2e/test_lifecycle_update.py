"""New facts for an incident (issue 12, `leak_update`): the intake modal filled with the
current answers; a changed recommendation goes back for approval (a new round), an unchanged
one keeps the decision. Signed requests, the emulator, both databases, the FakeClock."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import APPROVER_1, APPROVER_2, CHANNEL, MILD_STEPS, REPORTER, STRANGER, Leakbot
from e2e_support import actions_blocks, incident, inputs, recommendation, text_of

from bot.domain.vocabulary import OPTION_KEYS
from bot.store import IncidentRecord

pytestmark = pytest.mark.usefixtures("no_rejections")


def initial_answers(view: dict[str, Any]) -> dict[str, Any]:
    """What Slack submits for inputs the person leaves as they were (their initial values)."""
    found: dict[str, Any] = {}
    for block_id, block in inputs(view).items():
        element = block["element"]
        if "initial_option" in element:
            found[block_id] = element["initial_option"]["value"]
        elif "initial_options" in element:
            found[block_id] = [o["value"] for o in element["initial_options"]]
        elif "initial_date_time" in element:
            found[block_id] = element["initial_date_time"]
        elif "initial_value" in element:
            value = element["initial_value"]
            found[block_id] = int(value) if element["type"] == "number_input" else value
    return found


async def current_message(bot: Leakbot, record: IncidentRecord) -> dict[str, Any]:
    """The incident's latest message (after a new round the old one stays in the channel)."""
    stored = await incident(bot.store, record.id)
    assert stored.message_ts is not None
    return bot.emulator.message(CHANNEL, stored.message_ts)


async def press(bot: Leakbot, record: IncidentRecord, action_id: str, user: str) -> str:
    message = await current_message(bot, record)
    before = len(bot.emulator.calls_to("response_url"))
    reply = await bot.slack.block_actions(
        action_id, user_id=user, channel_id=CHANNEL, message_ts=str(message["ts"])
    )
    assert reply.status == 200, reply.text
    await bot.emulator.wait_for_call("response_url", count=before + 1)
    await bot.deliver()
    return " ".join(
        str(b.get("text") or "") for b in bot.emulator.responses(reply.response_url or "")
    )


async def decided(bot: Leakbot, record: IncidentRecord, *approvers: str) -> IncidentRecord:
    for user in approvers:
        await press(bot, record, "leak_approve", user)
    stored = await incident(bot.store, record.id)
    assert stored.status == "decided", stored
    return stored


async def update_facts(
    bot: Leakbot, record: IncidentRecord, user: str, changes: dict[str, Any]
) -> dict[str, Any]:
    """Press Update facts, keep every prefilled answer but `changes`, confirm; returns the
    modal's last view."""
    message = await current_message(bot, record)
    opens = len(bot.emulator.calls_to("views.open"))
    reply = await bot.slack.block_actions(
        "leak_update", user_id=user, channel_id=CHANNEL, message_ts=str(message["ts"])
    )
    assert reply.status == 200, reply.text
    call = await bot.emulator.wait_for_call("views.open", count=opens + 1)
    assert call.ok and call.response is not None, call.response
    view_id = str(call.response["view"]["id"])
    for _ in bot.playbook.steps:
        view = bot.emulator.view(view_id)
        answers = initial_answers(view)
        answers |= {k: v for k, v in changes.items() if k in inputs(view)}
        submitted = await bot.submit_step(view_id, user, answers)
        assert (submitted.json or {}).get("response_action") == "update", submitted.json
    done = await bot.submit_step(view_id, user, {})
    assert (done.json or {}).get("response_action") == "update", done.json
    await bot.deliver()
    return bot.emulator.view(view_id)


async def test_new_facts_that_change_the_recommendation_need_a_new_approval(
    leakbot: Leakbot,
) -> None:
    emu = leakbot.emulator
    record = await leakbot.report(REPORTER, MILD_STEPS)
    first = await decided(leakbot, record, APPROVER_1)
    assert first.recommendation != "suspend_and_legal"
    old_ts = first.message_ts
    # A stranger may not update it.
    answer = await press(leakbot, first, "leak_update", STRANGER)
    assert "Only the reporter, approvers and task owners" in answer

    last = await update_facts(
        leakbot,
        first,
        REPORTER,
        {"cause": "intentional", "damage": "confirmed", "data_kinds": ["management_critical"]},
    )
    assert "承認者に改めて判断を依頼しました" in text_of(last)
    after = await incident(leakbot.store, record.id)
    assert (after.status, after.round) == ("pending", 2)
    # A more severe case: the recommendation moves up (never down).
    assert OPTION_KEYS.index(after.recommendation) > OPTION_KEYS.index(first.recommendation)  # type: ignore[arg-type]
    assert after.answers["cause"] == "intentional" and after.decided_action is None
    assert "aware_at" not in after.answers  # the picker's prefilled awareness is not a change
    assert after.assessment["deadlines"][0]["due"] == first.assessment["deadlines"][0]["due"]
    [reopened] = [
        e for e in await leakbot.store.audit_trail(record.id) if e.action == "incident.reopened"
    ]
    assert reopened.actor_id == REPORTER and reopened.after["reason"] == "facts_updated"
    changed = {c["id"] for c in reopened.after["changes"]["answers"]}
    assert changed == {"cause", "damage", "data_kinds"}
    assert reopened.after["changes"]["recommendation"] == {
        "before": first.recommendation,
        "after": after.recommendation,
    }
    assert reopened.before["answers"]["cause"] == "negligence"

    # "What changed" in the old thread; the old message loses its controls; a new one to decide.
    [note] = [m for m in emu.messages(CHANNEL) if "変わった点" in str(m.get("text"))]
    assert note["thread_ts"] == old_ts
    assert "• 原因: " in note["text"] and " → 故意" in note["text"]
    assert "• 推奨:" in note["text"] and "改めて承認が必要です" in note["text"]
    assert old_ts is not None and not actions_blocks(emu.message(CHANNEL, old_ts))
    assert after.message_ts is not None and after.message_ts != old_ts
    new_message = emu.message(CHANNEL, after.message_ts)
    [controls] = actions_blocks(new_message)
    assert controls["block_id"] == f"leak_decision:{record.id}:2"

    # Round 2 is decided like any other.
    needed = leakbot.playbook.approval.approvals_needed(after.recommendation)  # type: ignore[arg-type]
    final = await decided(leakbot, after, *[APPROVER_1, APPROVER_2][:needed])
    assert (final.round, final.decided_action) == (2, after.recommendation)


async def test_new_facts_that_change_nothing_material_keep_the_decision(leakbot: Leakbot) -> None:
    emu = leakbot.emulator
    record = await leakbot.report(REPORTER, MILD_STEPS)
    first = await decided(leakbot, record, APPROVER_1)
    posts = [m for m in emu.messages(CHANNEL) if not m.get("thread_ts")]
    tasks_before = await leakbot.store.tasks_for(record.id)

    # Nothing changed at all: nothing is written.
    audit = len(await leakbot.store.audit_trail(record.id))
    last = await update_facts(leakbot, first, APPROVER_1, {})
    assert "回答に変更はありませんでした" in text_of(last)
    assert len(await leakbot.store.audit_trail(record.id)) == audit

    # A description only: the decision stands, in the same round, and the thread says so.
    last = await update_facts(
        leakbot, first, REPORTER, {"description": "委託先の担当者の誤送信と判明"}
    )
    assert "決定はそのまま" in text_of(last)
    after = await incident(leakbot.store, record.id)
    assert (after.status, after.round, after.decided_action, after.decided_by) == (
        "decided",
        1,
        first.decided_action,
        first.decided_by,
    )
    assert after.answers["description"] == "委託先の担当者の誤送信と判明"
    [updated] = [
        e for e in await leakbot.store.audit_trail(record.id) if e.action == "incident.updated"
    ]
    assert updated.actor_id == REPORTER
    assert [c["id"] for c in updated.after["changes"]["answers"]] == ["description"]
    assert "description" not in updated.before["answers"]
    notes = [m for m in emu.messages(CHANNEL) if "変わった点" in str(m.get("text"))]
    assert len(notes) == 1 and "推奨は変わりません" in notes[0]["text"]
    assert "決定はそのまま" in notes[0]["text"]
    # No new recommendation; the same tasks; the message shows the new description.
    assert len([m for m in emu.messages(CHANNEL) if not m.get("thread_ts")]) == len(posts)
    assert [t.id for t in await leakbot.store.tasks_for(record.id)] == [t.id for t in tasks_before]
    assert "委託先の担当者の誤送信と判明" in text_of(recommendation(emu, record.id))


async def test_a_kept_decision_follows_deadlines_that_appear_and_go(leakbot: Leakbot) -> None:
    record = await leakbot.report(REPORTER)  # suspend_and_legal, regions jp + eu
    first = await decided(leakbot, record, APPROVER_1, APPROVER_2)
    before = {t.ref: t for t in await leakbot.store.tasks_for(record.id)}
    assert "gdpr_authority" in before and "us_ca_notice" not in before

    last = await update_facts(leakbot, first, APPROVER_1, {"regions": ["jp", "us_ca"]})
    assert "決定はそのまま" in text_of(last)
    after = await incident(leakbot.store, record.id)
    assert (after.status, after.round, after.decided_action) == ("decided", 1, "suspend_and_legal")
    tasks = {t.ref: t for t in await leakbot.store.tasks_for(record.id)}
    assert "gdpr_authority" not in tasks  # no longer applies: cancelled
    assert "us_ca_notice" in tasks and tasks["us_ca_notice"].round == 1
    assert tasks["appi_final"].id == before["appi_final"].id  # unchanged ones stay as they were
    [adjusted] = [
        e for e in await leakbot.store.audit_trail(record.id) if e.action == "tasks.adjusted"
    ]
    assert [c["ref"] for c in adjusted.after["cancelled"]] == ["gdpr_authority"]
    [note] = [m for m in leakbot.emulator.messages(CHANNEL) if "変わった点" in str(m.get("text"))]
    assert "新しい期限" in note["text"] and "該当しなくなった期限" in note["text"]
    # The tasks message in the thread follows.
    thread = [
        text_of(m)
        for m in leakbot.emulator.messages(CHANNEL)
        if m.get("thread_ts") == first.message_ts and "完了したら" in str(m.get("text"))
    ]
    assert len(thread) == 1
    assert tasks["us_ca_notice"].title["ja"] in thread[0]
    assert before["gdpr_authority"].title["ja"] not in thread[0]
