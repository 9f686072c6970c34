"""Approvals on the recommendation message: who may decide, how many, and what follows."""

from __future__ import annotations

import asyncio

import pytest
from conftest import (
    APPROVER_1,
    APPROVER_2,
    APPROVER_3,
    CHANNEL,
    MILD_STEPS,
    REPORTER,
    STRANGER,
    Leakbot,
)
from db_reads import approvals_of
from e2e_support import (
    actions_blocks,
    dm_posts,
    incident,
    mrkdwn_texts,
    recommendation,
    response_texts,
    text_of,
)

from bot.store import IncidentRecord

pytestmark = pytest.mark.usefixtures("no_rejections")


async def test_stranger_cannot_approve(leakbot: Leakbot) -> None:
    emu = leakbot.emulator
    record = await leakbot.report(REPORTER, MILD_STEPS)
    calls_before = len(emu.calls_to("chat.update"))
    reply = await leakbot.click(record, "leak_approve", STRANGER, value=record.id)
    await emu.wait_for_call("response_url")
    [answer] = response_texts(emu, reply.response_url)
    # STRANGER's locale is en-US: the explanation is in English and names the approvers.
    assert answer.startswith(f"Only approvers (<@{APPROVER_1}> <!subteam^SAPPROVERS>)")
    assert "Nothing was changed" in answer
    [ephemeral] = emu.ephemerals(user=STRANGER)
    assert ephemeral["text"] == answer
    stored = await incident(leakbot.store, record.id)
    assert stored.status == "pending" and stored.decided_by == ()
    assert await approvals_of(leakbot.store, record.id) == []
    trail = [
        e
        for e in await leakbot.store.audit_trail(record.id)
        if "approval" in e.action or e.action.startswith("incident.")
    ]
    assert [(e.action, e.actor_id) for e in trail] == [
        ("incident.created", REPORTER),
        ("approval.refused", STRANGER),
    ]
    assert trail[-1].after == {"action": record.recommendation, "reason": "not_approver"}
    # Sending it back is refused the same way (no reason modal), and recorded too.
    reply = await leakbot.click(record, "leak_reject", STRANGER, value=record.id)
    await emu.wait_for_call("response_url", count=2)
    assert response_texts(emu, reply.response_url)[0].startswith("Only approvers")
    assert len(emu.calls_to("views.open")) == 1  # the intake modal only
    trail = await leakbot.store.audit_trail(record.id)
    assert (trail[-1].action, trail[-1].actor_id) == ("approval.refused", STRANGER)
    assert trail[-1].after == {"action": "reject", "reason": "not_approver"}
    assert (await incident(leakbot.store, record.id)).status == "pending"
    await leakbot.deliver()
    assert len(emu.calls_to("chat.update")) == calls_before
    message = recommendation(emu, record.id)
    assert actions_blocks(message)  # buttons still live
    # No personal data in this case: the partner's report is the only deadline.
    assert "取引先の事故報告書" in text_of(message)
    assert "個人情報保護委員会" not in text_of(message)
    emu.assert_no_rejections()


async def test_reporter_who_is_an_approver_cannot_decide_own_incident(leakbot: Leakbot) -> None:
    emu = leakbot.emulator
    record = await leakbot.report(APPROVER_1, MILD_STEPS)
    assert record.reporter_id == APPROVER_1
    reply = await leakbot.click(record, "leak_approve", APPROVER_1, value=record.id)
    await emu.wait_for_call("response_url")
    [answer] = response_texts(emu, reply.response_url)
    assert "ご自身が報告したインシデント" in answer
    # Another action from the menu, or sending it back, is refused just the same.
    reply = await leakbot.click(
        record, "leak_choose", APPROVER_1, selected_option="continue_unchanged"
    )
    await emu.wait_for_call("response_url", count=2)
    assert "ご自身が報告した" in response_texts(emu, reply.response_url)[0]
    reply = await leakbot.click(record, "leak_reject", APPROVER_1, value=record.id)
    await emu.wait_for_call("response_url", count=3)
    assert "ご自身が報告した" in response_texts(emu, reply.response_url)[0]
    assert not emu.calls_to("views.open")[1:]  # no reason modal (the first was the intake)
    stored = await incident(leakbot.store, record.id)
    assert stored.status == "pending"
    trail = await leakbot.store.audit_trail(record.id)
    refusals = [(e.action, e.actor_id, e.after["action"], e.after["reason"]) for e in trail[1:]]
    assert refusals == [
        ("approval.refused", APPROVER_1, record.recommendation, "own_incident"),
        ("approval.refused", APPROVER_1, "continue_unchanged", "own_incident"),
        ("approval.refused", APPROVER_1, "reject", "own_incident"),
    ]
    # Another approver may decide it.
    reply = await leakbot.click(record, "leak_approve", APPROVER_2, value=record.id)
    await emu.wait_for_call("response_url", count=4)
    assert (await incident(leakbot.store, record.id)).status == "decided"
    emu.assert_no_rejections()


async def test_suspension_needs_two_different_approvers(leakbot: Leakbot) -> None:
    emu = leakbot.emulator
    record = await leakbot.report(REPORTER)
    assert record.recommendation == "suspend_and_legal"
    original = recommendation(emu, record.id)

    reply = await leakbot.click(record, "leak_approve", APPROVER_1, value=record.id)
    await emu.wait_for_call("response_url", count=1)
    [first] = response_texts(emu, reply.response_url)
    assert "1/2人" in first and "あと1人" in first
    assert (await incident(leakbot.store, record.id)).status == "pending"

    reply = await leakbot.click(record, "leak_approve", APPROVER_1, value=record.id)
    await emu.wait_for_call("response_url", count=2)
    [again] = response_texts(emu, reply.response_url)
    assert "承認は記録済みです" in again
    assert (await incident(leakbot.store, record.id)).status == "pending"
    await leakbot.deliver()
    assert not emu.calls_to("chat.update")

    leakbot.clock.advance(minutes=3)
    reply = await leakbot.click(record, "leak_approve", APPROVER_2, value=record.id)
    await emu.wait_for_call("response_url", count=3)
    [decided] = response_texts(emu, reply.response_url)
    assert decided == f"{record.id} は「即時停止・法的措置を検討」に決定しました。"
    stored = await incident(leakbot.store, record.id)
    assert stored.status == "decided" and stored.decided_action == "suspend_and_legal"
    assert stored.decided_by == (APPROVER_1, APPROVER_2)

    await leakbot.deliver()
    [update] = emu.successful_calls_to("chat.update")
    assert update.args["channel"] == CHANNEL
    assert update.args["ts"] == leakbot.recommendation_ts(record)
    message = recommendation(emu, record.id)
    # No decision controls left; only the incident's own Update facts and Close (issue 12).
    assert [e["action_id"] for b in actions_blocks(message) for e in b["elements"]] == [
        "leak_update",
        "leak_close",
    ]
    text = text_of(message)
    assert f"<@{APPROVER_1}>, <@{APPROVER_2}>" in text  # who
    assert "*即時停止・法的措置を検討* に決定" in text  # what
    assert "2026年11月26日(木) 10:03" in text  # when (Asia/Tokyo)
    assert "LEAK-2026-0001" in message["blocks"][0]["text"]["text"]
    dms = dm_posts(emu, REPORTER)
    assert len(dms) == 2  # the receipt, then the decision
    assert dms[1].args["text"].startswith(f"{record.id} の対応が決まりました")
    assert f"<@{APPROVER_2}>" in dms[1].args["text"]
    trail = [
        e
        for e in await leakbot.store.audit_trail(record.id)
        if "approval" in e.action or e.action.startswith("incident.")
    ]
    assert [(e.action, e.actor_id) for e in trail] == [
        ("incident.created", REPORTER),
        ("approval.recorded", APPROVER_1),
        ("approval.recorded", APPROVER_2),
        ("incident.decided", APPROVER_2),
    ]
    assert trail[-1].after["decided_action"] == "suspend_and_legal"

    # A late click (from a client still showing the buttons) is answered with the decision.
    reply = await leakbot.click(
        record, "leak_approve", APPROVER_3, value=record.id, message=original
    )
    await emu.wait_for_call("response_url", count=4)
    [late] = response_texts(emu, reply.response_url)
    assert late.startswith(f"{record.id} は判断済みです")
    await leakbot.deliver()
    assert len(emu.calls_to("chat.update")) == 1
    assert len(dm_posts(emu, REPORTER)) == 2
    emu.assert_no_rejections()


async def test_choosing_another_action_needs_one_approver(leakbot: Leakbot) -> None:
    emu = leakbot.emulator
    record = await leakbot.report(REPORTER)  # recommends suspend_and_legal
    reply = await leakbot.click(record, "leak_choose", APPROVER_1, selected_option="request_report")
    await emu.wait_for_call("response_url")
    [answer] = response_texts(emu, reply.response_url)
    assert "報告書・改善書の提出を求める" in answer and "決定しました" in answer
    stored = await incident(leakbot.store, record.id)
    assert (stored.status, stored.decided_action, stored.decided_by) == (
        "decided",
        "request_report",
        (APPROVER_1,),
    )
    await leakbot.deliver()
    message = recommendation(emu, record.id)
    # No decision controls left; only the incident's own Update facts and Close (issue 12).
    assert [e["action_id"] for b in actions_blocks(message) for e in b["elements"]] == [
        "leak_update",
        "leak_close",
    ]
    assert "*報告書・改善書の提出を求める* に決定" in text_of(message)
    emu.assert_no_rejections()


async def test_choosing_suspension_from_the_menu_still_needs_two(leakbot: Leakbot) -> None:
    emu = leakbot.emulator
    record = await leakbot.report(REPORTER, MILD_STEPS)
    reply = await leakbot.click(
        record, "leak_choose", APPROVER_1, selected_option="suspend_and_legal"
    )
    await emu.wait_for_call("response_url")
    assert "1/2人" in response_texts(emu, reply.response_url)[0]
    assert (await incident(leakbot.store, record.id)).status == "pending"
    reply = await leakbot.click(
        record, "leak_choose", APPROVER_3, selected_option="suspend_and_legal"
    )
    await emu.wait_for_call("response_url", count=2)
    stored = await incident(leakbot.store, record.id)
    assert (stored.status, stored.decided_action) == ("decided", "suspend_and_legal")


async def _concurrent_clicks(
    bot: Leakbot, record: IncidentRecord, users: tuple[str, str]
) -> list[str]:
    replies = await asyncio.gather(
        *(bot.click(record, "leak_approve", user, value=record.id) for user in users)
    )
    await bot.emulator.wait_for_call("response_url", count=2)
    return [response_texts(bot.emulator, r.response_url)[0] for r in replies]


async def test_concurrent_approvals_by_two_approvers_decide_once(leakbot: Leakbot) -> None:
    emu = leakbot.emulator
    record = await leakbot.report(REPORTER, MILD_STEPS)
    assert record.recommendation in ("request_report", "continue_with_concern")
    answers = await _concurrent_clicks(leakbot, record, (APPROVER_1, APPROVER_3))
    assert sum("決定しました" in a for a in answers) == 1, answers
    assert sum("判断済み" in a for a in answers) == 1, answers
    stored = await incident(leakbot.store, record.id)
    assert stored.status == "decided" and len(stored.decided_by) == 1
    await leakbot.deliver()
    assert len(emu.calls_to("chat.update")) == 1
    assert len(dm_posts(emu, REPORTER)) == 2
    actions = [e.action for e in await leakbot.store.audit_trail(record.id)]
    assert actions.count("incident.decided") == 1
    assert actions.count("approval.recorded") == 1
    emu.assert_no_rejections()


async def test_concurrent_approvals_reaching_the_quorum_decide_once(leakbot: Leakbot) -> None:
    emu = leakbot.emulator
    record = await leakbot.report(REPORTER)  # suspend_and_legal: two approvers
    answers = await _concurrent_clicks(leakbot, record, (APPROVER_1, APPROVER_2))
    assert sum("1/2人" in a for a in answers) == 1, answers
    assert sum("決定しました" in a for a in answers) == 1, answers
    stored = await incident(leakbot.store, record.id)
    assert stored.status == "decided" and set(stored.decided_by) == {APPROVER_1, APPROVER_2}
    await leakbot.deliver()
    assert len(emu.calls_to("chat.update")) == 1
    assert len(dm_posts(emu, REPORTER)) == 2


async def test_double_click_by_one_approver_decides_once(leakbot: Leakbot) -> None:
    emu = leakbot.emulator
    record = await leakbot.report(REPORTER, MILD_STEPS)
    answers = await _concurrent_clicks(leakbot, record, (APPROVER_1, APPROVER_1))
    assert sum("決定しました" in a for a in answers) == 1, answers
    await leakbot.deliver()
    assert len(emu.calls_to("chat.update")) == 1
    assert len(dm_posts(emu, REPORTER)) == 2
    assert len(await approvals_of(leakbot.store, record.id)) == 1

    # On a two-approver case, a double click records one approval (the other is a duplicate).
    severe = await leakbot.report(REPORTER)
    answers = await _concurrent_clicks_more(leakbot, severe, APPROVER_1, already=2)
    assert sorted("記録済み" in a for a in answers) == [False, True], answers
    assert (await incident(leakbot.store, severe.id)).status == "pending"
    assert len(await approvals_of(leakbot.store, severe.id)) == 1


async def _concurrent_clicks_more(
    bot: Leakbot, record: IncidentRecord, user: str, *, already: int
) -> list[str]:
    replies = await asyncio.gather(
        *(bot.click(record, "leak_approve", user, value=record.id) for _ in range(2))
    )
    await bot.emulator.wait_for_call("response_url", count=already + 2)
    return [response_texts(bot.emulator, r.response_url)[0] for r in replies]


async def test_group_member_approves_and_group_is_cached(leakbot: Leakbot) -> None:
    emu = leakbot.emulator
    first = await leakbot.report(REPORTER, MILD_STEPS)
    second = await leakbot.report(REPORTER, MILD_STEPS)
    third = await leakbot.report(REPORTER, MILD_STEPS)
    assert not emu.calls_to("usergroups.users.list")

    await leakbot.click(first, "leak_approve", APPROVER_2, value=first.id)
    await emu.wait_for_call("response_url", count=1)
    assert (await incident(leakbot.store, first.id)).decided_by == (APPROVER_2,)
    [lookup] = emu.calls_to("usergroups.users.list")
    assert lookup.args["usergroup"] == "SAPPROVERS"

    leakbot.clock.advance(minutes=4)
    await leakbot.click(second, "leak_approve", APPROVER_3, value=second.id)
    await emu.wait_for_call("response_url", count=2)
    assert (await incident(leakbot.store, second.id)).status == "decided"
    assert len(emu.calls_to("usergroups.users.list")) == 1  # cached

    leakbot.clock.advance(minutes=10)
    await leakbot.click(third, "leak_approve", APPROVER_2, value=third.id)
    await emu.wait_for_call("response_url", count=3)
    assert (await incident(leakbot.store, third.id)).status == "decided"
    assert len(emu.calls_to("usergroups.users.list")) == 2  # looked up again after the TTL


async def test_an_unanswered_group_lookup_is_not_a_refusal(leakbot: Leakbot) -> None:
    """Slack's edge answers the group lookup with an HTML 502 page: a group member is not told
    they are no approver, nothing is recorded, and the next click is decided."""
    emu = leakbot.emulator
    record = await leakbot.report(REPORTER, MILD_STEPS)
    emu.fail_next("usergroups.users.list", html=True)
    reply = await leakbot.click(record, "leak_approve", APPROVER_2, value=record.id)
    await emu.wait_for_call("response_url")
    [answer] = response_texts(emu, reply.response_url)
    assert "<!subteam^SAPPROVERS>" in answer and record.id in answer
    assert "Slack に確認できなかった" in answer and "何も記録していません" in answer
    assert "承認者（" not in answer  # not "only approvers can decide"
    [lookup] = emu.calls_to("usergroups.users.list")
    assert (lookup.status, lookup.fault) == (502, "html_502")
    stored = await incident(leakbot.store, record.id)
    assert stored.status == "pending" and stored.decided_by == ()
    trail = await leakbot.store.audit_trail(record.id)
    assert not [e for e in trail if e.action == "approval.refused"]
    # Sending it back while Slack still does not answer: the same answer (whoever clicks: the
    # group may hold them), and no reason modal.
    emu.fail_next("usergroups.users.list", html=True)
    opened_before = len(emu.calls_to("views.open"))
    reply = await leakbot.click(record, "leak_reject", STRANGER, value=record.id)
    await emu.wait_for_call("response_url", count=2)
    [answer] = response_texts(emu, reply.response_url)
    assert answer.startswith("Slack could not be asked who is in the approver group")
    assert len(emu.calls_to("views.open")) == opened_before
    trail = await leakbot.store.audit_trail(record.id)
    assert not [e for e in trail if e.action == "approval.refused"]

    # Slack answers again: the same click decides.
    reply = await leakbot.click(record, "leak_approve", APPROVER_2, value=record.id)
    await emu.wait_for_call("response_url", count=3)
    assert (await incident(leakbot.store, record.id)).decided_by == (APPROVER_2,)

    # Once learnt, the group's members are kept when a later lookup fails (past the cache's
    # five minutes): its members still decide, and others are refused as before.
    second = await leakbot.report(REPORTER, MILD_STEPS)
    leakbot.clock.advance(minutes=6)
    emu.fail_next("usergroups.users.list", html=True)
    reply = await leakbot.click(second, "leak_reject", STRANGER, value=second.id)
    await emu.wait_for_call("response_url", count=4)
    [answer] = response_texts(emu, reply.response_url)
    assert answer.startswith(f"Only approvers (<@{APPROVER_1}> <!subteam^SAPPROVERS>)")
    trail = await leakbot.store.audit_trail(second.id)
    assert [(e.action, e.actor_id) for e in trail if e.action == "approval.refused"] == [
        ("approval.refused", STRANGER)
    ]
    await leakbot.click(second, "leak_approve", APPROVER_3, value=second.id)
    await emu.wait_for_call("response_url", count=5)
    assert (await incident(leakbot.store, second.id)).decided_by == (APPROVER_3,)
    # (The remembered members were past the cache's time: the approve click asked again.)
    assert [c.status for c in emu.calls_to("usergroups.users.list")] == [502, 502, 200, 502, 200]


async def test_reject_asks_for_a_reason_and_tells_the_reporter(leakbot: Leakbot) -> None:
    emu = leakbot.emulator
    record = await leakbot.report(REPORTER, MILD_STEPS)
    original = recommendation(emu, record.id)
    opened_before = len(emu.calls_to("views.open"))
    await leakbot.click(record, "leak_reject", APPROVER_1, value=record.id)
    opened = await emu.wait_for_call("views.open", count=opened_before + 1)
    assert opened.ok and opened.response is not None
    view = emu.view(opened.response["view"]["id"])
    assert view["callback_id"] == "leak_reject_reason"
    [reason_block] = [b for b in view["blocks"] if b["type"] == "input"]
    assert reason_block["block_id"] == "reason"
    assert record.id in text_of(view)

    # An empty reason (the client would not allow it; sent raw) is a field error.
    reply = await leakbot.slack.view_submission(
        view["id"],
        user_id=APPROVER_1,
        values={"reason": {"value": {"type": "plain_text_input", "value": "   "}}},
    )
    assert reply.json == {"response_action": "errors", "errors": {"reason": "入力が必要です。"}}
    assert (await incident(leakbot.store, record.id)).status == "pending"

    reason = "取引先名が誤っています。<!channel> に聞かず確認してください"
    reply = await leakbot.slack.view_submission(
        view["id"], user_id=APPROVER_1, answers={"reason": reason}
    )
    assert reply.json == {"response_action": "clear"}
    stored = await incident(leakbot.store, record.id)
    assert stored.status == "rejected"
    assert stored.decision_reason == reason and stored.decided_by == (APPROVER_1,)
    await leakbot.deliver()
    message = recommendation(emu, record.id)
    # No decision controls left; only the incident's own Update facts and Close (issue 12).
    assert [e["action_id"] for b in actions_blocks(message) for e in b["elements"]] == [
        "leak_update",
        "leak_close",
    ]
    assert "差し戻し" in text_of(message) and f"<@{APPROVER_1}>" in text_of(message)
    dms = dm_posts(emu, REPORTER)
    assert len(dms) == 2
    assert "差し戻されました" in dms[1].args["text"]
    assert "取引先名が誤っています。&lt;!channel&gt; に聞かず" in dms[1].args["text"]
    assert "&lt;!channel&gt;" in text_of(message)  # the reason is shown, escaped
    for text in [*mrkdwn_texts(message), dms[1].args["text"]]:
        assert "<!channel>" not in text, text
    trail = [(e.action, e.actor_id) for e in await leakbot.store.audit_trail(record.id)]
    assert trail[-1] == ("incident.rejected", APPROVER_1)
    # Once sent back, approving is answered with the state; nothing changes.
    reply = await leakbot.click(
        record, "leak_approve", APPROVER_1, value=record.id, message=original
    )
    await emu.wait_for_call("response_url")
    assert "判断済み" in response_texts(emu, reply.response_url)[0]
    assert (await incident(leakbot.store, record.id)).status == "rejected"
    emu.assert_no_rejections()
