"""Closing and reopening an incident, and `/leak list` filters (issue 12). Signed requests,
the emulator, both databases, the FakeClock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from conftest import (
    APPROVER_1,
    APPROVER_2,
    CHANNEL,
    MILD_STEPS,
    REPORTER,
    STRANGER,
    Leakbot,
)
from e2e_support import (
    actions_blocks,
    command_answer,
    incident,
    inputs,
    recommendation,
    text_of,
)

from bot.store import IncidentRecord

pytestmark = pytest.mark.usefixtures("no_rejections")


async def ephemeral(bot: Leakbot, reply_url: str | None, count: int) -> str:
    await bot.emulator.wait_for_call("response_url", count=count)
    return " ".join(str(b.get("text") or "") for b in bot.emulator.responses(reply_url or ""))


async def press(bot: Leakbot, record: IncidentRecord, action_id: str, user: str) -> str:
    """Press a button of the incident's message (as it is now); returns the ephemeral answer."""
    message = recommendation(bot.emulator, record.id)
    before = len(bot.emulator.calls_to("response_url"))
    reply = await bot.slack.block_actions(
        action_id, user_id=user, channel_id=CHANNEL, message_ts=str(message["ts"])
    )
    assert reply.status == 200, reply.text
    answer = await ephemeral(bot, reply.response_url, before + 1)
    await bot.deliver()
    return answer


async def open_close_modal(bot: Leakbot, record: IncidentRecord, user: str) -> dict[str, Any]:
    """Press Close; returns the modal that opened."""
    message = recommendation(bot.emulator, record.id)
    opens = len(bot.emulator.calls_to("views.open"))
    reply = await bot.slack.block_actions(
        "leak_close", user_id=user, channel_id=CHANNEL, message_ts=str(message["ts"])
    )
    assert reply.status == 200, reply.text
    call = await bot.emulator.wait_for_call("views.open", count=opens + 1)
    assert call.ok and call.response is not None, call.response
    return bot.emulator.view(str(call.response["view"]["id"]))


def controls(message: dict[str, Any]) -> list[str]:
    return [e["action_id"] for block in actions_blocks(message) for e in block["elements"]]


async def decided(bot: Leakbot, record: IncidentRecord, *approvers: str) -> IncidentRecord:
    for user in approvers:
        await press(bot, record, "leak_approve", user)
    stored = await incident(bot.store, record.id)
    assert stored.status == "decided"
    return stored


async def test_close_with_open_regulator_deadlines_then_reopen(leakbot: Leakbot) -> None:
    emu = leakbot.emulator
    record = await leakbot.report(REPORTER)  # personal data, jp + eu: regulator deadlines
    await decided(leakbot, record, APPROVER_1, APPROVER_2)
    message = recommendation(emu, record.id)
    assert controls(message) == ["leak_update", "leak_close"]  # no decision controls

    # A stranger may not close it; nothing is written but the refusal.
    answer = await press(leakbot, record, "leak_close", STRANGER)
    assert "Only approvers" in answer and "Nothing was changed" in answer
    # The reporter may, with a "trading continues" outcome only.
    reporter_modal = await open_close_modal(leakbot, record, REPORTER)
    outcome_options = inputs(reporter_modal)["outcome"]["element"]["options"]
    assert [o["value"] for o in outcome_options] == ["continued", "continued_with_conditions"]

    # An approver: every outcome, and each open regulator deadline to confirm.
    modal = await open_close_modal(leakbot, record, APPROVER_1)
    blocks = inputs(modal)
    assert [o["value"] for o in blocks["outcome"]["element"]["options"]] == [
        "continued",
        "continued_with_conditions",
        "suspended",
        "terminated",
        "legal_action",
        "other",
    ]
    assert blocks["note"]["optional"] is True
    regulator = sorted(b.split(":", 1)[1] for b in blocks if b.startswith("regulator:"))
    assert {"appi_preliminary", "appi_final", "gdpr_authority"} <= set(regulator)
    assert "partner_report" not in regulator  # not a regulator deadline
    answers: dict[str, Any] = {
        "outcome": "suspended",
        "note": "取引停止。<!channel> 再発防止策待ち",
    }
    answers |= {f"regulator:{ref}": "not_required" for ref in regulator}
    answers["regulator:appi_preliminary"] = "done"
    # "Not required" without a reason is refused, field by field.
    reply = await leakbot.slack.view_submission(modal["id"], user_id=APPROVER_1, answers=answers)
    assert (reply.json or {}).get("response_action") == "errors", reply.json
    errors = (reply.json or {})["errors"]
    assert set(errors) == {
        f"regulator_reason:{ref}" for ref in regulator if ref != "appi_preliminary"
    }
    assert (await incident(leakbot.store, record.id)).status == "decided"

    answers |= {
        f"regulator_reason:{ref}": "委託先が報告済み（委託元への通知あり）"
        for ref in regulator
        if ref != "appi_preliminary"
    }
    reply = await leakbot.slack.view_submission(modal["id"], user_id=APPROVER_1, answers=answers)
    assert (reply.json or {}).get("response_action") == "clear", reply.json
    await leakbot.deliver()
    closed = await incident(leakbot.store, record.id)
    assert closed.status == "closed"
    closure = await leakbot.store.latest_closure(record.id)
    assert (
        closure is not None and closure.outcome == "suspended" and closure.closed_by == APPROVER_1
    )
    assert {item["ref"]: item["state"] for item in closure.regulator} == {
        ref: "done" if ref == "appi_preliminary" else "not_required" for ref in regulator
    }
    tasks = {t.ref: t for t in await leakbot.store.tasks_for(record.id)}
    assert tasks["appi_preliminary"].status == "done"
    assert tasks["appi_preliminary"].done_by == APPROVER_1
    assert tasks["gdpr_authority"].status == "open"  # not required: left as it was
    [row] = [e for e in await leakbot.store.audit_trail(record.id) if e.action == "incident.closed"]
    assert row.actor_id == APPROVER_1 and row.before == {"status": "decided"}
    assert row.after["outcome"] == "suspended" and row.after["tasks_done"] == [
        tasks["appi_preliminary"].id
    ]
    # The message shows the outcome (the note escaped) and Reopen.
    message = recommendation(emu, record.id)
    assert controls(message) == ["leak_reopen"]
    assert "クローズ（結果: *取引を停止*" in text_of(message)
    assert "&lt;!channel&gt;" in text_of(message) and "<!channel>" not in text_of(message)

    # Closed: no reminders, overdue posts or re-assessments however long it waits.
    posts = len(emu.calls_to("chat.postMessage"))
    for days in (1, 3, 30, 90):
        leakbot.clock.set(closed.updated_at + timedelta(days=days))
        await leakbot.app.scheduler.follow_through()
        await leakbot.deliver()
    assert len(emu.calls_to("chat.postMessage")) == posts
    assert (await incident(leakbot.store, record.id)).status == "closed"

    # Out of the default list, in "closed" and "all".
    assert record.id not in await listing(leakbot, "", APPROVER_1)
    assert record.id in await listing(leakbot, "closed", APPROVER_1)
    assert record.id in await listing(leakbot, "all", APPROVER_1)

    # A stranger may not reopen it; the reporter may.
    closed_message = recommendation(emu, record.id)
    answer = await press(leakbot, record, "leak_reopen", STRANGER)
    assert "Only approvers and the reporter" in answer
    answer = await press(leakbot, record, "leak_reopen", REPORTER)
    assert "再オープンしました" in answer
    reopened = await incident(leakbot.store, record.id)
    assert reopened.status == "decided" and reopened.decided_action == closed.decided_action
    assert controls(recommendation(emu, record.id)) == ["leak_update", "leak_close"]
    assert record.id in await listing(leakbot, "", APPROVER_1)
    trail = [(e.action, e.actor_id) for e in await leakbot.store.audit_trail(record.id)]
    assert ("incident.reopened_after_close", REPORTER) in trail
    assert ("close.refused", STRANGER) in trail and ("reopen.refused", STRANGER) in trail
    closure = await leakbot.store.latest_closure(record.id)
    assert closure is not None and closure.reopened_by == REPORTER
    # A second Reopen on the message as it was (e.g. a double click) changes nothing.
    before = len(emu.calls_to("response_url"))
    reply = await leakbot.slack.block_actions(
        "leak_reopen",
        user_id=APPROVER_1,
        channel_id=CHANNEL,
        message_ts=str(closed_message["ts"]),
        message=closed_message,
    )
    assert "クローズされていません" in await ephemeral(leakbot, reply.response_url, before + 1)
    assert len(await leakbot.store.audit_trail(record.id)) == len(trail)


async def test_the_reporter_closes_when_trading_continues(leakbot: Leakbot) -> None:
    record = await leakbot.report(REPORTER, MILD_STEPS)  # no personal data: nothing to confirm
    await decided(leakbot, record, APPROVER_1)
    modal = await open_close_modal(leakbot, record, REPORTER)
    assert not [b for b in inputs(modal) if b.startswith("regulator")]
    reply = await leakbot.slack.view_submission(
        modal["id"], user_id=REPORTER, answers={"outcome": "continued_with_conditions"}
    )
    assert (reply.json or {}).get("response_action") == "clear", reply.json
    await leakbot.deliver()
    assert (await incident(leakbot.store, record.id)).status == "closed"
    closure = await leakbot.store.latest_closure(record.id)
    assert closure is not None and closure.note is None and closure.regulator == []


async def listing(bot: Leakbot, args: str, user: str) -> str:
    _, body = await command_answer(bot, f"list {args}".strip(), user)
    return text_of(body)


async def test_list_filters_newest_first_and_pages(leakbot: Leakbot) -> None:
    service = leakbot.app.deps.service
    made: list[IncidentRecord] = []
    for n in range(33):
        partner = "Globex Inc." if n % 3 == 0 else f"株式会社テスト{n:02d}"
        record, _ = await service.submit(
            {"partner": partner, "data_kinds": ["internal_minor"]},
            reporter_id=REPORTER,
            team_id=None,
            locale="ja",
            submission_key=f"list-test-{n}",
        )
        made.append(record)
        leakbot.clock.advance(minutes=1)
    closed, _ = await service.submit(
        {"partner": "Globex Inc."},
        reporter_id=REPORTER,
        team_id=None,
        locale="ja",
        submission_key="list-test-closed",
    )
    await leakbot.close_in_store(closed.id)

    first_page = await listing(leakbot, "", APPROVER_1)
    assert "インシデント（対応中）33件中 1〜30件目（新しい順）" in first_page
    ids = [r.id for r in reversed(made)]
    positions = [first_page.index(i) for i in ids[:30]]
    assert positions == sorted(positions)  # newest first
    assert ids[30] not in first_page and closed.id not in first_page
    assert "`/leak list open page 2`" in first_page
    second = await listing(leakbot, "open page 2", APPROVER_1)
    assert "33件中 31〜33件目" in second and all(i in second for i in ids[30:])
    assert "page 3" not in second

    globex = await listing(leakbot, "all globex", APPROVER_1)
    assert "インシデント（すべて）12件中 1〜12件目" in globex and "取引先「globex」" in globex
    assert closed.id in globex and "株式会社テスト" not in globex
    only_closed = await listing(leakbot, "closed", APPROVER_1)
    assert "1件中 1〜1件目" in only_closed and closed.id in only_closed
    assert "該当するインシデント（クローズ済み）はありません。" in await listing(
        leakbot, "closed テスト", APPROVER_1
    )
    # Someone else sees only what they reported.
    assert "No incidents (all)." in await listing(leakbot, "all", STRANGER)  # en-US
    # /leak help documents it.
    _, body = await command_answer(leakbot, "help", REPORTER)
    assert "/leak list [open|closed|all] [取引先名] [page N]" in text_of(body)
