"""Signatures, freshness, malformed requests, Slack's retries — and the health check."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from conftest import APPROVER_1, CHANNEL, MILD_STEPS, REPORTER, STEPS, Leakbot
from e2e_support import assert_no_traceback, channel_posts, footprint, walk_to_confirm
from slackemu import SlackReply, payloads

pytestmark = pytest.mark.usefixtures("no_rejections")


async def _nothing_written(bot: Leakbot) -> None:
    after = await footprint(bot.store, bot.emulator)
    assert (after.incidents, after.outbox, after.audit, after.api_calls) == (0, 0, 0, 0), after


@pytest.mark.parametrize(
    "bad", [{"forge": True}, {"timestamp_offset": -600}, {"timestamp_offset": 600}]
)
async def test_unsigned_or_stale_requests_are_refused(leakbot: Leakbot, bad: Any) -> None:
    slack = leakbot.slack
    replies: list[SlackReply] = [
        await slack.slash_command("/leak", user_id=REPORTER, **bad),
        await slack.slash_command("/leak", "list", user_id=REPORTER, **bad),
        await slack.event_callback(
            payloads.app_mention_event(channel=CHANNEL, user=REPORTER, text="hi", ts="1.000100"),
            **bad,
        ),
        await slack.url_verification(**bad),
    ]
    # A whole final submission of a modal, made up by someone without the signing secret.
    fake_view = {
        "id": "VFAKE00001",
        "callback_id": "leak_intake",
        "private_metadata": json.dumps({"s": 4, "l": "ja", "a": {"partner": "Evil"}, "c": None}),
        "blocks": [],
    }
    replies.append(await slack.view_submission(fake_view, user_id=REPORTER, values={}, **bad))
    for reply in replies:
        assert reply.status == 401, (reply.status, reply.text)
        assert_no_traceback(reply.text)
    await _nothing_written(leakbot)
    assert leakbot.emulator.calls == []  # not even users.info


ACKED = {
    "foreign metadata",
    "metadata of the wrong shape",
    "step out of range",
    "reject modal without metadata",
    "approve without a value",
    "choose without option or block",
    "back without a view",
    "slash command without user",
}


async def _post_raw(bot: Leakbot, body: bytes, content_type: str) -> SlackReply:
    return await bot.slack.post(body, content_type)


async def test_malformed_requests_get_a_clean_answer(leakbot: Leakbot) -> None:
    slack = leakbot.slack
    form = "application/x-www-form-urlencoded"
    intake_view = {
        "id": "VFOREIGN01",
        "callback_id": "leak_intake",
        "private_metadata": "not ours at all",
        "blocks": [],
    }
    requests: list[tuple[str, Callable[[], Awaitable[SlackReply]]]] = [
        ("not-json payload", lambda: _post_raw(leakbot, b"payload=not-json", form)),
        ("empty form", lambda: _post_raw(leakbot, b"", form)),
        ("empty json", lambda: _post_raw(leakbot, b"", "application/json")),
        ("json garbage", lambda: _post_raw(leakbot, b"{nope", "application/json")),
        ("json list", lambda: _post_raw(leakbot, b"[1, 2]", "application/json")),
        ("payload list", lambda: _post_raw(leakbot, b"payload=%5B1%5D", form)),
        (
            "foreign metadata",
            lambda: slack.view_submission(
                intake_view, user_id=REPORTER, values={}, apply_ack=False
            ),
        ),
        (
            "metadata of the wrong shape",
            lambda: slack.view_submission(
                {**intake_view, "private_metadata": json.dumps({"s": "x", "l": "ja", "a": []})},
                user_id=REPORTER,
                values={},
                apply_ack=False,
            ),
        ),
        (
            "step out of range",
            lambda: slack.view_submission(
                {**intake_view, "private_metadata": json.dumps({"s": 99, "l": "ja", "a": {}})},
                user_id=REPORTER,
                values={},
                apply_ack=False,
            ),
        ),
        (
            "reject modal without metadata",
            lambda: slack.view_submission(
                {"id": "VFOREIGN02", "callback_id": "leak_reject_reason", "blocks": []},
                user_id=APPROVER_1,
                values={},
                apply_ack=False,
            ),
        ),
        (
            "block_actions without actions",
            lambda: slack.send_interaction({"type": "block_actions", "user": {"id": APPROVER_1}}),
        ),
        (
            "approve without a value",
            lambda: slack.send_interaction(
                {
                    "type": "block_actions",
                    "user": {"id": APPROVER_1},
                    "actions": [{"action_id": "leak_approve", "type": "button"}],
                }
            ),
        ),
        (
            "choose without option or block",
            lambda: slack.send_interaction(
                {
                    "type": "block_actions",
                    "user": {"id": APPROVER_1},
                    "actions": [{"action_id": "leak_choose", "type": "static_select"}],
                }
            ),
        ),
        (
            "back without a view",
            lambda: slack.send_interaction(
                {
                    "type": "block_actions",
                    "user": {"id": REPORTER},
                    "actions": [{"action_id": "leak_back", "type": "button"}],
                }
            ),
        ),
        (
            "slash command without user",
            lambda: slack.send_form({"command": "/leak", "text": "status LEAK-2026-0001"}),
        ),
        (
            "event without event",
            lambda: slack.send_json({"type": "event_callback", "event_id": "Ev1"}),
        ),
    ]
    for name, request in requests:
        reply = await request()
        assert reply.status < 500, (name, reply.status, reply.text)
        if name in ACKED:  # our listeners ack even what they cannot use (no 404 after 3 s)
            assert reply.status == 200, (name, reply.status, reply.text)
        assert_no_traceback(reply.text)
        if reply.status == 200 and isinstance(reply.json, dict) and "response_action" in reply.json:
            # A foreign view is answered with "start again", never a half-made step.
            assert reply.json["response_action"] == "update", (name, reply.json)
            assert "もう一度始めてください" in json.dumps(reply.json, ensure_ascii=False)
    after = await footprint(leakbot.store, leakbot.emulator)
    assert (after.incidents, after.outbox, after.audit) == (0, 0, 0), after
    # The listeners that ran to the end answered on their response_url at most (none given).
    assert [c.method for c in leakbot.emulator.calls if c.method.startswith("chat.")] == []
    leakbot.emulator.assert_no_rejections()


async def test_retried_final_submission_creates_one_incident(leakbot: Leakbot) -> None:
    emu = leakbot.emulator
    view_id, _ = await walk_to_confirm(leakbot, REPORTER, STEPS)
    confirm = emu.view(view_id)  # what Slack sends, twice
    first = await leakbot.slack.view_submission(confirm, user_id=REPORTER, values={})
    again = await leakbot.slack.view_submission(
        confirm, user_id=REPORTER, values={}, retry_num=1, retry_reason="http_timeout"
    )
    assert first.status == again.status == 200
    assert first.json["response_action"] == again.json["response_action"] == "update"
    assert "LEAK-2026-0001" in json.dumps(again.json, ensure_ascii=False)
    records = await leakbot.store.list_incidents()
    assert [r.id for r in records] == ["LEAK-2026-0001"]
    await leakbot.deliver()
    assert len(channel_posts(emu)) == 1
    assert len(await leakbot.store.outbox_items()) == 2  # recommendation + receipt, once
    created = [e for e in await leakbot.store.audit_trail("LEAK-2026-0001")]
    assert [e.action for e in created] == ["incident.created"]
    # A new modal is a new report.
    await leakbot.report(REPORTER, MILD_STEPS)
    assert len(await leakbot.store.list_incidents()) == 2


async def test_concurrent_duplicate_final_submissions_create_one_incident(
    leakbot: Leakbot,
) -> None:
    view_id, _ = await walk_to_confirm(leakbot, REPORTER, MILD_STEPS)
    confirm = leakbot.emulator.view(view_id)
    replies = await asyncio.gather(
        leakbot.slack.view_submission(confirm, user_id=REPORTER, values={}, apply_ack=False),
        leakbot.slack.view_submission(
            confirm, user_id=REPORTER, values={}, apply_ack=False, retry_num=1
        ),
    )
    assert [r.status for r in replies] == [200, 200]
    assert all("LEAK-2026-0001" in r.text for r in replies)
    assert [r.id for r in await leakbot.store.list_incidents()] == ["LEAK-2026-0001"]
    assert len(await leakbot.store.outbox_items()) == 2


async def test_url_verification_needs_a_signature(leakbot: Leakbot) -> None:
    reply = await leakbot.slack.url_verification("the-challenge")
    assert reply.status == 200 and "the-challenge" in reply.text
    forged = await leakbot.slack.url_verification("the-challenge", forge=True)
    assert forged.status == 401 and "the-challenge" not in forged.text


async def test_mention_retried_by_slack_is_answered_once(leakbot: Leakbot) -> None:
    emu = leakbot.emulator
    event = payloads.app_mention_event(
        channel=CHANNEL, user=REPORTER, text="<@UBOT> help", ts="1767225600.000900"
    )
    first = await leakbot.slack.event_callback(event, event_id="Ev0MENTION1")
    assert first.status == 200
    reply = await emu.wait_for_call("chat.postMessage")
    assert reply.args["thread_ts"] == "1767225600.000900"
    assert "/leak" in reply.args["text"]
    again = await leakbot.slack.event_callback(
        event, event_id="Ev0MENTION1", retry_num=1, retry_reason="http_timeout"
    )
    assert again.status == 200
    # A different mention is answered; its answer is the proof that the retry was handled.
    other = {**event, "ts": "1767225600.000950"}
    await leakbot.slack.event_callback(other, event_id="Ev0MENTION2")
    await emu.wait_for_call("chat.postMessage", count=2)
    threads = [c.args["thread_ts"] for c in emu.calls_to("chat.postMessage")]
    assert threads == ["1767225600.000900", "1767225600.000950"]


async def test_healthz(leakbot: Leakbot) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{leakbot.server.url}/healthz") as response,
    ):
        assert response.status == 200
        body = await response.json()
    assert body["ok"] is True
    assert body["database"] == "up"


async def test_slack_errors_after_the_ack_do_not_fail_the_request(leakbot: Leakbot) -> None:
    """A Slack call that fails after the ack is logged; Slack still gets its 200 at once (Bolt
    would otherwise answer 404 three seconds later, and the user would see an error)."""
    emu = leakbot.emulator
    # /leak whose trigger expired before views.open.
    emu.fail_next("views.open", error="expired_trigger_id")
    reply = await leakbot.slack.slash_command("/leak", user_id=REPORTER)
    assert reply.status == 200 and reply.text == ""
    await emu.wait_for_call("views.open")
    # Back on a modal that changed meanwhile (views.update answers hash_conflict).
    view_id = await leakbot.open_modal(REPORTER)
    await leakbot.submit_step(view_id, REPORTER, STEPS[0])
    stale = {**emu.view(view_id), "hash": "1767225600.stale"}
    reply = await leakbot.slack.block_actions("leak_back", user_id=REPORTER, view=stale)
    assert reply.status == 200
    failed = await emu.wait_for_call("views.update")
    assert failed.error == "hash_conflict"
    assert "ステップ 2/5" in str(emu.view(view_id)["blocks"])  # unchanged
    # Send back, when the reason modal cannot open.
    record = await leakbot.report(REPORTER, MILD_STEPS)
    registry = leakbot.app.deps.metrics.registry  # logged and counted, not lost
    assert registry.get_sample_value("leakbot_failures_total", {"where": "listener"}) == 2
    opens = len(emu.calls_to("views.open"))
    emu.fail_next("views.open", error="expired_trigger_id")
    reply = await leakbot.click(record, "leak_reject", APPROVER_1, value=record.id)
    assert reply.status == 200
    failed = await emu.wait_for_call("views.open", count=opens + 1)
    assert failed.error == "expired_trigger_id"
    stored = await leakbot.store.get_incident(record.id)
    assert stored is not None and stored.status == "pending"
