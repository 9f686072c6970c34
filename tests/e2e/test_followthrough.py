"""Follow-through over HTTP and the Slack emulator: follow-up tasks and their Done buttons,
reminders, the missed partner report, and approval escalation.

Time moves only with the FakeClock; the scheduler's jobs are called directly
(`scheduler.follow_through()` is what APScheduler runs every minute) and `deliver()` drains the
outbox, so nothing sleeps.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from conftest import (
    APPROVER_1,
    APPROVER_2,
    APPROVER_3,
    CHANNEL,
    GROUP,
    MILD_STEPS,
    REPORTER,
    SECOND_LEVEL,
    STRANGER,
    T0,
    Leakbot,
    start_leakbot,
    stop_leakbot,
)
from e2e_support import actions_blocks, command_answer, text_of
from slackemu import FakeClock, RecordedCall, SlackEmulator

from bot.domain.playbook import DEFAULT_PLAYBOOK_DIR
from bot.store import IncidentRecord, TaskRecord

JST = ZoneInfo("Asia/Tokyo")


def jst(day: int, hour: int, minute: int = 0, *, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=JST)


# -- helpers ----------------------------------------------------------------------------------


async def stored(bot: Leakbot, incident_id: str) -> IncidentRecord:
    record = await bot.store.get_incident(incident_id)
    assert record is not None, incident_id
    return record


async def reopen_round(bot: Leakbot, incident: IncidentRecord) -> IncidentRecord:
    """`incident` in a new round with its assessment unchanged, as the store records it (the
    start of the round a changed recommendation or the partner's report makes)."""
    await bot.store.reopen_for_new_round(
        incident.id,
        assessment=incident.assessment,
        recommendation=incident.recommendation,
        actor_id="leakbot",
        reason="test",
        now=bot.clock.now(),
    )
    return await stored(bot, incident.id)


async def click_and_wait(
    bot: Leakbot, incident: IncidentRecord, action_id: str, user_id: str, **kwargs: Any
) -> str:
    """Click on the (current) recommendation message; returns the ephemeral answer's text."""
    record = await stored(bot, incident.id)
    ts = record.message_ts or bot.recommendation_ts(incident)
    before = len(bot.emulator.calls_to("response_url"))
    reply = await bot.slack.block_actions(
        action_id, user_id=user_id, channel_id=CHANNEL, message_ts=ts, **kwargs
    )
    assert reply.status == 200, reply.text
    await bot.emulator.wait_for_call("response_url", count=before + 1)
    return " ".join(
        str(body.get("text") or "") for body in bot.emulator.responses(reply.response_url or "")
    )


async def decide(bot: Leakbot, incident: IncidentRecord, *approvers: str) -> IncidentRecord:
    for user in approvers:
        # The button's own value (incident, round, action) as on the current message.
        await click_and_wait(bot, incident, "leak_approve", user)
    await bot.deliver()
    record = await stored(bot, incident.id)
    assert record.status == "decided", record
    return record


def thread_replies(bot: Leakbot, parent_ts: str) -> list[dict[str, Any]]:
    return [
        m
        for m in bot.emulator.messages(CHANNEL)
        if m.get("thread_ts") == parent_ts and m["ts"] != parent_ts
    ]


def tasks_message(bot: Leakbot, parent_ts: str) -> dict[str, Any]:
    found = [m for m in thread_replies(bot, parent_ts) if "フォローアップ" in str(m.get("text"))]
    assert len(found) == 1, [text_of(m)[:80] for m in thread_replies(bot, parent_ts)]
    return found[0]


def done_buttons(message: dict[str, Any]) -> dict[str, str]:
    """value (task id) → block_id of each Done button."""
    return {
        str(block["accessory"]["value"]): str(block["block_id"])
        for block in message.get("blocks") or []
        if (block.get("accessory") or {}).get("action_id") == "leak_task_done"
    }


async def tick(bot: Leakbot, message: dict[str, Any], task: TaskRecord, user_id: str) -> str:
    """Press a task's Done button as `user_id`; returns the ephemeral answer's text."""
    before = len(bot.emulator.calls_to("response_url"))
    reply = await bot.slack.block_actions(
        "leak_task_done",
        user_id=user_id,
        channel_id=CHANNEL,
        message_ts=str(message["ts"]),
        message=message,  # as the user saw it (possibly before someone else's click)
        block_id=done_buttons(message)[str(task.id)],
    )
    assert reply.status == 200, reply.text
    await bot.emulator.wait_for_call("response_url", count=before + 1)
    await bot.deliver()
    return " ".join(
        str(body.get("text") or "") for body in bot.emulator.responses(reply.response_url or "")
    )


async def run_follow_through(bot: Leakbot) -> None:
    await bot.app.scheduler.follow_through()
    await bot.deliver()


async def actions(bot: Leakbot, incident_id: str, action: str) -> list[Any]:
    return [row for row in await bot.store.audit_trail(incident_id) if row.action == action]


def posts_to(emu: SlackEmulator, channel: str) -> list[RecordedCall]:
    """Successful chat.postMessage calls to a channel (thread replies included)."""
    return [c for c in emu.successful_calls_to("chat.postMessage") if c.args["channel"] == channel]


def dm_posts(emu: SlackEmulator, user_id: str) -> list[RecordedCall]:
    """Successful chat.postMessage calls to a user's DM (the app posts to the user id)."""
    dm = emu.dm_channel(user_id)
    return [
        c for c in emu.successful_calls_to("chat.postMessage") if c.args["channel"] in (user_id, dm)
    ]


def posts_where(bot: Leakbot, channel: str, test: Callable[[str], bool]) -> list[str]:
    return [text_of(c.args) for c in posts_to(bot.emulator, channel) if test(text_of(c.args))]


def dms_where(bot: Leakbot, user_id: str, test: Callable[[str], bool]) -> list[str]:
    return [text_of(c.args) for c in dm_posts(bot.emulator, user_id) if test(text_of(c.args))]


# -- tasks ------------------------------------------------------------------------------------


async def test_tasks_thread_owner_ticks_stranger_refused_approver_may(leakbot: Leakbot) -> None:
    emu = leakbot.emulator
    incident = await leakbot.report(REPORTER)  # suspend_and_legal: two approvals
    record = await decide(leakbot, incident, APPROVER_1, APPROVER_2)
    tasks = await leakbot.store.tasks_for(incident.id)
    refs = [task.ref for task in tasks]
    # The deadlines of this case, then the chosen action's checklist.
    assert {"partner_report", "appi_preliminary", "appi_final", "appi_notify_persons"} <= set(refs)
    assert "gdpr_authority" in refs  # regions: eu
    checklist = leakbot.playbook.checklists["suspend_and_legal"]
    assert [t.ref for t in tasks if t.kind == "checklist"] == [
        f"checklist:{n}" for n in range(len(checklist))
    ]
    owners = {task.ref: task.owner_id for task in tasks}
    assert owners["partner_report"] == REPORTER  # playbook: owner reporter
    assert owners["appi_preliminary"] == APPROVER_2  # playbook: owner approver (the decider)
    assert all(owners[f"checklist:{n}"] == REPORTER for n in range(len(checklist)))
    decided_at = record.decided_at
    assert decided_at is not None
    assert all(t.due_at == decided_at + timedelta(hours=24) for t in tasks if t.kind == "checklist")

    # In the recommendation's thread, one Done button per open task (value = task id).
    parent = leakbot.recommendation_ts(incident)
    message = tasks_message(leakbot, parent)
    assert message["thread_ts"] == parent
    assert done_buttons(message).keys() == {str(task.id) for task in tasks}
    assert incident.id in text_of(message)
    emu.assert_no_rejections()

    partner_report = next(task for task in tasks if task.ref == "partner_report")
    audit_before = len(await leakbot.store.audit_trail(incident.id))
    updates_before = len(emu.successful_calls_to("chat.update"))

    # A stranger is refused (ephemeral) and nothing changes.
    answer = await tick(leakbot, message, partner_report, STRANGER)
    assert "Only the reporter" in answer  # the stranger's Slack locale is English
    assert (await leakbot.store.get_task(partner_report.id)).status == "open"  # type: ignore[union-attr]
    assert len(emu.successful_calls_to("chat.update")) == updates_before
    assert done_buttons(emu.message(CHANNEL, message["ts"])).keys() == done_buttons(message).keys()
    refused = await actions(leakbot, incident.id, "task.refused")
    assert [(row.actor_id, row.after) for row in refused] == [
        (STRANGER, {"task": partner_report.id})
    ]

    # The owner ticks it: the tasks message is updated (done line with who) and audited.
    leakbot.clock.advance(hours=2)
    answer = await tick(leakbot, message, partner_report, REPORTER)
    assert "完了にしました" in answer
    done = await leakbot.store.get_task(partner_report.id)
    assert done is not None and done.status == "done" and done.done_by == REPORTER
    assert done.done_at == leakbot.clock.now()
    updated = emu.message(CHANNEL, message["ts"])
    assert len(emu.successful_calls_to("chat.update")) == updates_before + 1
    assert str(partner_report.id) not in done_buttons(updated)
    assert len(done_buttons(updated)) == len(tasks) - 1
    assert f"<@{REPORTER}> が完了" in text_of(updated)
    assert "2026年11月26日(木) 12:00" in text_of(updated)
    rows = await actions(leakbot, incident.id, "task.done")
    assert len(rows) == 1
    assert rows[0].actor_id == REPORTER and rows[0].at == leakbot.clock.now()
    assert rows[0].after["ref"] == "partner_report"
    assert len(await leakbot.store.audit_trail(incident.id)) == audit_before + 2  # refused, done

    # An approver (through the user group) may tick a task that is not theirs.
    checklist_task = next(task for task in tasks if task.ref == "checklist:0")
    answer = await tick(leakbot, updated, checklist_task, APPROVER_3)
    assert "完了にしました" in answer
    after = await leakbot.store.get_task(checklist_task.id)
    assert after is not None and after.done_by == APPROVER_3
    assert f"<@{APPROVER_3}> が完了" in emu.message_text(CHANNEL, message["ts"])

    # /leak status lists the tasks, done and open, and the trail shows who ticked.
    _, answer = await command_answer(leakbot, f"status {incident.id}", REPORTER)
    status = text_of(answer)
    assert "*フォローアップ*" in status
    assert "✅ 取引先の事故報告書・再発防止策" in status
    assert "⬜ 個人情報保護委員会への速報" in status
    assert status.count("✅") == 2 and status.count("⬜") == len(tasks) - 2
    assert f"<@{REPORTER}>: タスク完了" in status
    assert "タスク完了を拒否（権限なし）" in status
    # One "tasks.created" row, written with the tasks.
    created = await actions(leakbot, incident.id, "tasks.created")
    assert len(created) == 1 and len(created[0].after["tasks"]) == len(tasks)
    emu.assert_no_rejections()


async def test_ticking_twice_and_unknown_task(leakbot: Leakbot) -> None:
    incident = await leakbot.report(REPORTER, MILD_STEPS)
    await decide(leakbot, incident, APPROVER_1)
    message = tasks_message(leakbot, leakbot.recommendation_ts(incident))
    task = (await leakbot.store.tasks_for(incident.id))[0]
    assert "完了にしました" in await tick(leakbot, message, task, REPORTER)
    # A second click on the (stale) message: already done, no second audit row or update.
    updates = len(leakbot.emulator.successful_calls_to("chat.update"))
    assert "完了済み" in await tick(leakbot, message, task, APPROVER_1)
    assert len(await actions(leakbot, incident.id, "task.done")) == 1
    assert len(leakbot.emulator.successful_calls_to("chat.update")) == updates
    # A forged value is answered, not crashed on.
    before = len(leakbot.emulator.calls_to("response_url"))
    reply = await leakbot.slack.block_actions(
        "leak_task_done",
        user_id=REPORTER,
        channel_id=CHANNEL,
        message_ts=str(message["ts"]),
        message=message,
        block_id=done_buttons(message)[str(task.id)],
        action={"value": "999999"},
    )
    assert reply.status == 200
    await leakbot.emulator.wait_for_call("response_url", count=before + 1)
    assert "見つかりません" in " ".join(
        str(b.get("text")) for b in leakbot.emulator.responses(reply.response_url or "")
    )


# -- reminders ----------------------------------------------------------------------------------


async def test_reminders_24h_before_and_at_due_once_each(leakbot: Leakbot) -> None:
    """The EU notice (72 h, owner: the approver who decided) is reminded 24 h before and at its
    due time, once each; when it passes, the escalation channel hears of it, once."""
    incident = await leakbot.report(REPORTER)
    await decide(leakbot, incident, APPROVER_1, APPROVER_2)
    tasks = {task.ref: task for task in await leakbot.store.tasks_for(incident.id)}
    gdpr = tasks["gdpr_authority"]
    assert gdpr.owner_id == APPROVER_2 and gdpr.due_at == T0 + timedelta(hours=72)
    # Nothing is due at the decision (checklist items due in exactly 24 h included).
    await run_follow_through(leakbot)
    assert dms_where(leakbot, APPROVER_2, lambda text: "期限" in text) == []
    assert dms_where(leakbot, REPORTER, lambda text: "期限" in text) == []

    def about_gdpr(text: str) -> bool:
        return "EU監督機関への通知（GDPR）" in text

    # The checklist (due 24 h after the decision): one DM for all its items, to the reporter.
    leakbot.clock.set(T0 + timedelta(hours=24))
    await run_follow_through(leakbot)
    checklist_dms = dms_where(leakbot, REPORTER, lambda text: "期限を迎えました" in text)
    assert len(checklist_dms) == 1
    assert "フォローアップ5件" in checklist_dms[0]
    assert "• 経営層に報告する" in checklist_dms[0]

    leakbot.clock.set(gdpr.due_at - timedelta(hours=24, minutes=1))  # type: ignore[operator]
    await run_follow_through(leakbot)
    assert dms_where(leakbot, APPROVER_2, about_gdpr) == []

    leakbot.clock.set(gdpr.due_at - timedelta(hours=24))  # type: ignore[operator]
    await run_follow_through(leakbot)
    before = dms_where(leakbot, APPROVER_2, about_gdpr)
    assert len(before) == 1
    assert "あと24時間" in before[0] and incident.id in before[0]
    assert "2026年11月29日(日) 10:00" in before[0]

    # Every minute the job runs again: no second DM.
    for _ in range(3):
        leakbot.clock.advance(minutes=1)
        await run_follow_through(leakbot)
    assert len(dms_where(leakbot, APPROVER_2, about_gdpr)) == 1

    # At the due time: one more DM, and the regulator deadline is posted to the escalation
    # channel, mentioning the approvers.
    overdue_before = posts_where(
        leakbot, CHANNEL, lambda text: "規制当局への期限を過ぎました" in text
    )
    assert overdue_before == []
    leakbot.clock.set(gdpr.due_at)  # type: ignore[arg-type]
    await run_follow_through(leakbot)
    leakbot.clock.advance(minutes=1)
    await run_follow_through(leakbot)
    gdpr_dms = dms_where(leakbot, APPROVER_2, about_gdpr)
    assert len(gdpr_dms) == 2
    assert "期限を迎えました" in gdpr_dms[1]
    overdue = posts_where(leakbot, CHANNEL, lambda text: "規制当局への期限を過ぎました" in text)
    assert len(overdue) == 1
    assert f"<@{APPROVER_1}>" in overdue[0] and f"<!subteam^{GROUP}>" in overdue[0]
    assert "EU監督機関への通知（GDPR）" in overdue[0]

    # Ticked tasks are not reminded: the APPI notice (due "promptly": 3 days, Sun the 29th, moves
    # to the end of Mon the 30th) is done now.
    leakbot.clock.set(jst(30, 23, 0))
    await run_follow_through(leakbot)
    notice = tasks["appi_notify_persons"]
    parent = leakbot.recommendation_ts(incident)
    assert "完了にしました" in await tick(
        leakbot, tasks_message(leakbot, parent), notice, APPROVER_2
    )
    assert notice.due_at == jst(30, 23, 59) + timedelta(seconds=59)
    leakbot.clock.set(jst(1, 0, 1, month=12))
    await run_follow_through(leakbot)
    due_now = dms_where(leakbot, APPROVER_2, lambda text: "期限を迎えました" in text)
    assert all("本人への通知" not in text for text in due_now)
    # The APPI preliminary report (target: 3 days → Mon the 30th) is shown overdue only after
    # 5 days (the end of Tue Dec 1).
    overdue = posts_where(leakbot, CHANNEL, lambda text: "規制当局への期限を過ぎました" in text)
    assert not [text for text in overdue if "速報" in text]
    leakbot.clock.set(jst(2, 0, 1, month=12))
    await run_follow_through(leakbot)
    overdue = posts_where(leakbot, CHANNEL, lambda text: "規制当局への期限を過ぎました" in text)
    assert len([text for text in overdue if "速報" in text]) == 1

    sent = await actions(leakbot, incident.id, "reminder.sent")
    keys = [(row.after["owner"], row.after["stage"], tuple(row.after["refs"])) for row in sent]
    assert len(keys) == len(set(keys))
    assert (APPROVER_2, "before_24h", ("gdpr_authority",)) in keys
    assert (APPROVER_2, "due", ("gdpr_authority",)) in keys
    leakbot.emulator.assert_no_rejections()


async def test_a_reminder_missed_while_down_is_sent_once_and_only_the_latest(
    leakbot: Leakbot,
) -> None:
    incident = await leakbot.report(REPORTER, MILD_STEPS)
    await decide(leakbot, incident, APPROVER_1)
    partner = next(
        t for t in await leakbot.store.tasks_for(incident.id) if t.ref == "partner_report"
    )
    assert partner.due_at is not None
    # Down from the decision until after the checklist's due time: one "due" DM, no stale
    # "due in 24 hours".
    leakbot.clock.set(T0 + timedelta(hours=30))
    await run_follow_through(leakbot)
    await run_follow_through(leakbot)
    texts = dms_where(leakbot, REPORTER, lambda text: "期限" in text)
    assert len(texts) == 1 and "期限を迎えました" in texts[0]
    # Then 24 h before the partner's report.
    leakbot.clock.set(partner.due_at - timedelta(hours=23))
    await run_follow_through(leakbot)
    texts = dms_where(leakbot, REPORTER, lambda text: "取引先の事故報告書" in text)
    assert len(texts) == 1 and "あと24時間" in texts[0]
    leakbot.clock.advance(minutes=1)
    await run_follow_through(leakbot)
    assert len(dms_where(leakbot, REPORTER, lambda text: "取引先の事故報告書" in text)) == 1


# -- the partner's report missed ------------------------------------------------------------


async def test_partner_report_missed_reassesses_and_asks_for_a_new_decision(
    leakbot: Leakbot,
) -> None:
    emu = leakbot.emulator
    incident = await leakbot.report(REPORTER, MILD_STEPS)
    first = await decide(leakbot, incident, APPROVER_1)
    assert first.answers["partner_response"] == "cooperative"
    old_ts = leakbot.recommendation_ts(incident)
    partner = next(
        t for t in await leakbot.store.tasks_for(incident.id) if t.ref == "partner_report"
    )
    assert partner.due_at is not None
    # Just before the due time nothing happens.
    leakbot.clock.set(partner.due_at - timedelta(minutes=1))
    await run_follow_through(leakbot)
    assert (await stored(leakbot, incident.id)).status == "decided"

    leakbot.clock.set(partner.due_at + timedelta(minutes=1))
    await run_follow_through(leakbot)
    await run_follow_through(leakbot)  # the next minute's run does not re-assess again
    record = await stored(leakbot, incident.id)
    assert record.status == "pending" and record.round == 2
    # The reporter's answer stays; what was observed is kept beside it and assessed with it.
    assert record.answers == first.answers
    assert record.assessment["observed"] == {
        "partner_response": "slow",
        "report_quality": "missing",
    }
    assert record.decided_action is None and record.decided_by == ()
    # The legal clocks keep running from the first awareness.
    assert datetime.fromisoformat(record.assessment["aware_at"]) == T0

    def clocks(snapshot: dict[str, Any]) -> list[tuple[str, str]]:
        return [(d["id"], d["due"]) for d in snapshot["deadlines"]]

    # The legal clocks keep their awareness time (only `overdue` moves on with the new time).
    assert clocks(record.assessment) == clocks(first.assessment)
    assert record.assessment["version"] == 2
    reopened = await actions(leakbot, incident.id, "incident.reopened")
    assert len(reopened) == 1
    assert reopened[0].actor_id == "leakbot"
    assert reopened[0].after["reason"] == "partner_report_missed"
    assert reopened[0].after["round"] == 2
    assert reopened[0].after["observed"]["partner_response"] == "slow"
    assert reopened[0].after["reported"] == {"partner_response": "cooperative"}

    # A new recommendation message in the channel, with live buttons; the old one without.
    assert record.message_ts is not None and record.message_ts != old_ts
    new = emu.message(CHANNEL, record.message_ts)
    assert "thread_ts" not in new
    assert actions_blocks(new), "the new recommendation has buttons"
    assert "遅い・不十分" in text_of(new)
    assert "再評価 2回目" in text_of(new)
    assert not actions_blocks(emu.message(CHANNEL, old_ts))
    note = [m for m in thread_replies(leakbot, old_ts) if "届きませんでした" in str(m.get("text"))]
    assert len(note) == 1
    emu.assert_no_rejections()

    # The new decision: fresh tasks for round 2, the partner's report with a new period; no
    # immediate second re-assessment.
    decided = await decide(leakbot, record, APPROVER_1)
    assert decided.round == 2
    round2 = [t for t in await leakbot.store.tasks_for(incident.id) if t.round == 2]
    new_partner = next(t for t in round2 if t.ref == "partner_report")
    assert new_partner.due_at is not None and new_partner.due_at > leakbot.clock.now()
    tasks_in_new_thread = tasks_message(leakbot, record.message_ts)
    assert done_buttons(tasks_in_new_thread).keys() == {str(t.id) for t in round2}
    leakbot.clock.advance(minutes=5)
    await run_follow_through(leakbot)
    assert (await stored(leakbot, incident.id)).status == "decided"
    assert len(await actions(leakbot, incident.id, "incident.reopened")) == 1


# -- approval escalation --------------------------------------------------------------------


async def test_escalation_reminds_then_second_level(escalating: Leakbot) -> None:
    bot = escalating
    incident = await bot.report(REPORTER)
    assert incident.recommendation == "suspend_and_legal"  # timeout 1 h in the playbook
    parent = bot.recommendation_ts(incident)

    def escalations() -> list[dict[str, Any]]:
        return [
            m for m in thread_replies(bot, parent) if "判断されていません" in str(m.get("text"))
        ]

    bot.clock.set(T0 + timedelta(minutes=59))
    await run_follow_through(bot)
    assert escalations() == []

    bot.clock.set(T0 + timedelta(hours=1))
    await run_follow_through(bot)
    bot.clock.advance(minutes=1)
    await run_follow_through(bot)
    first = escalations()
    assert len(first) == 1
    assert f"<@{APPROVER_1}>" in first[0]["text"] and f"<!subteam^{GROUP}>" in first[0]["text"]
    assert SECOND_LEVEL not in first[0]["text"]
    assert incident.id in first[0]["text"]
    assert [row.after for row in await actions(bot, incident.id, "escalation.reminded")] == [
        {"step": 1, "round": 1}
    ]
    assert dm_posts(bot.emulator, SECOND_LEVEL) == []

    bot.clock.set(T0 + timedelta(hours=2))
    await run_follow_through(bot)
    bot.clock.advance(minutes=30)
    await run_follow_through(bot)
    second = escalations()
    assert len(second) == 2
    assert f"<@{SECOND_LEVEL}>" in second[1]["text"] and "二次承認者" in second[1]["text"]
    dms = dm_posts(bot.emulator, SECOND_LEVEL)
    assert len(dms) == 1 and incident.id in dms[0].args["text"]
    assert [row.after for row in await actions(bot, incident.id, "escalation.second_level")] == [
        {"step": 2, "round": 1}
    ]
    # No more steps (the playbook has two), however long it waits.
    bot.clock.set(T0 + timedelta(days=2))
    await run_follow_through(bot)
    assert len(escalations()) == 2 and len(dm_posts(bot.emulator, SECOND_LEVEL)) == 1
    # The escalation steps show in /leak status.
    _, answer = await command_answer(bot, f"status {incident.id}", APPROVER_1)
    status = text_of(answer)
    assert "承認者に再通知" in status and "二次承認者に通知" in status
    bot.emulator.assert_no_rejections()


async def test_a_decided_incident_does_not_escalate(escalating: Leakbot) -> None:
    bot = escalating
    incident = await bot.report(REPORTER)
    await decide(bot, incident, APPROVER_1, APPROVER_2)
    bot.clock.set(T0 + timedelta(hours=5))
    await run_follow_through(bot)
    assert await actions(bot, incident.id, "escalation.reminded") == []
    assert dm_posts(bot.emulator, SECOND_LEVEL) == []


async def test_request_report_escalates_at_4h_not_1h(leakbot: Leakbot) -> None:
    incident = await leakbot.report(REPORTER, MILD_STEPS)
    assert incident.recommendation in ("continue_with_concern", "request_report")
    leakbot.clock.set(T0 + timedelta(hours=1))
    await run_follow_through(leakbot)
    leakbot.clock.set(T0 + timedelta(hours=3, minutes=59))
    await run_follow_through(leakbot)
    assert await actions(leakbot, incident.id, "escalation.reminded") == []
    leakbot.clock.set(T0 + timedelta(hours=4))
    await run_follow_through(leakbot)
    assert len(await actions(leakbot, incident.id, "escalation.reminded")) == 1
    # Without LEAKBOT_ESCALATION_APPROVERS the second step has no one to tell: nothing.
    leakbot.clock.set(T0 + timedelta(hours=9))
    await run_follow_through(leakbot)
    assert await actions(leakbot, incident.id, "escalation.second_level") == []
    replies = thread_replies(leakbot, leakbot.recommendation_ts(incident))
    assert len([m for m in replies if "判断されていません" in str(m.get("text"))]) == 1


def playbook_copy(folder: Path, section: str, **values: Any) -> Path:
    """A copy of the playbook with some values of one section (approval, schedules) changed."""
    folder.mkdir()
    data = yaml.safe_load((DEFAULT_PLAYBOOK_DIR / "leak.yml").read_text(encoding="utf-8"))
    data[section].update(values)
    (folder / "leak.yml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    shutil.copy(DEFAULT_PLAYBOOK_DIR / "survey.yml", folder / "survey.yml")
    return folder / "leak.yml"


@pytest.fixture
def working_hours_playbook(tmp_path: Path) -> Path:
    """A copy of the playbook whose escalation timeouts count working hours only."""
    return playbook_copy(tmp_path / "playbook", "approval", working_hours_only=True)


async def test_working_hours_only_timeout(
    emulator: SlackEmulator, clock: FakeClock, database_url: str, working_hours_playbook: Path
) -> None:
    clock.set(jst(27, 17, 30))  # a Friday, 30 minutes before the end of the working day
    bot = await start_leakbot(
        emulator, clock, database_url, LEAKBOT_PLAYBOOK=str(working_hours_playbook)
    )
    try:
        assert bot.playbook.approval.working_hours_only
        incident = await bot.report(REPORTER, MILD_STEPS)  # 4 h timeout
        for moment in (jst(27, 21, 30), jst(28, 12, 0), jst(30, 9, 0), jst(30, 12, 29)):
            clock.set(moment)
            await run_follow_through(bot)
            assert await actions(bot, incident.id, "escalation.reminded") == [], moment
        clock.set(jst(30, 12, 30))  # 30 min on Friday + 3.5 h on Monday
        await run_follow_through(bot)
        rows = await actions(bot, incident.id, "escalation.reminded")
        assert len(rows) == 1 and rows[0].at == jst(30, 12, 30)
    finally:
        await stop_leakbot(bot)


# -- a changed playbook: stored times follow it after a restart -------------------------------


async def test_a_shorter_escalation_timeout_applies_from_the_restart(
    emulator: SlackEmulator,
    clock: FakeClock,
    database_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Pending under a 10 h timeout (its next step stored for T0 + 10 h), restarted with the
    playbook's 1 h: the approvers are reminded at T0 + 1 h, not at the old stored time."""
    slow = playbook_copy(
        tmp_path / "slow", "approval", timeout_hours_by_recommendation={"suspend_and_legal": 10}
    )
    bot = await start_leakbot(emulator, clock, database_url, LEAKBOT_PLAYBOOK=str(slow))
    try:
        incident = await bot.report(REPORTER)
        assert incident.recommendation == "suspend_and_legal"
        clock.set(T0 + timedelta(minutes=30))
        await run_follow_through(bot)
        assert [
            due.seen for due in await bot.store.due_escalations(T0 + timedelta(days=1), limit=9)
        ] == [T0 + timedelta(hours=10)]
    finally:
        await stop_leakbot(bot)
    bot = await start_leakbot(emulator, clock, database_url)  # the playbook's 1 h
    try:
        caplog.set_level(logging.INFO, logger="bot.followthrough")
        clock.set(T0 + timedelta(minutes=59))
        await run_follow_through(bot)
        assert await actions(bot, incident.id, "escalation.reminded") == []
        # One line saying so, with how many rows (the incident; no tasks).
        changed = [r for r in caplog.records if "settings changed" in r.getMessage()]
        assert [(r.incidents, r.tasks) for r in changed] == [(1, 0)]  # type: ignore[attr-defined]
        clock.set(T0 + timedelta(hours=1))
        await run_follow_through(bot)
        rows = await actions(bot, incident.id, "escalation.reminded")
        assert [(row.at, row.after) for row in rows] == [
            (T0 + timedelta(hours=1), {"step": 1, "round": 1})
        ]
        replies = thread_replies(bot, bot.recommendation_ts(incident))
        assert len([m for m in replies if "判断されていません" in str(m.get("text"))]) == 1
    finally:
        await stop_leakbot(bot)


async def test_a_new_earlier_reminder_stage_is_sent_after_the_restart(
    emulator: SlackEmulator, clock: FakeClock, database_url: str, tmp_path: Path
) -> None:
    """Decided under reminders at the due time only (the EU notice's next moment stored for its
    due time), restarted with the playbook's 24 h before as well: that reminder is sent."""
    due_only = playbook_copy(tmp_path / "due_only", "schedules", reminder_hours_before=[0])
    bot = await start_leakbot(emulator, clock, database_url, LEAKBOT_PLAYBOOK=str(due_only))
    try:
        incident = await bot.report(REPORTER)
        await decide(bot, incident, APPROVER_1, APPROVER_2)
        await run_follow_through(bot)
        gdpr = {task.ref: task for task in await bot.store.tasks_for(incident.id)}["gdpr_authority"]
        assert gdpr.due_at == T0 + timedelta(hours=72)
    finally:
        await stop_leakbot(bot)
    bot = await start_leakbot(emulator, clock, database_url)  # reminders 24 h before and at due

    def about_gdpr(text: str) -> bool:
        return "EU監督機関への通知（GDPR）" in text

    try:
        clock.set(T0 + timedelta(hours=1))
        await run_follow_through(bot)
        assert dms_where(bot, APPROVER_2, about_gdpr) == []
        clock.set(gdpr.due_at - timedelta(hours=24))
        await run_follow_through(bot)
        before = dms_where(bot, APPROVER_2, about_gdpr)
        assert len(before) == 1 and "あと24時間" in before[0]
    finally:
        await stop_leakbot(bot)
