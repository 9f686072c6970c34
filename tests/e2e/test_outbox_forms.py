"""Outbox rows of both forms send the same call: notifications (bot/notifications.py) and the
`{"_render": …}` rows an earlier version stored, which a database may still hold."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import REPORTER, Leakbot

from bot.notifications import Notification
from bot.store import OutboxMessage

pytestmark = pytest.mark.usefixtures("no_rejections")


def _body(args: dict[str, Any]) -> dict[str, Any]:
    # The metadata names the outbox row (different for each row), the rest must be equal.
    return {key: value for key, value in args.items() if key != "metadata"}


async def test_a_stored_legacy_row_sends_like_its_notification(leakbot: Leakbot) -> None:
    record = await leakbot.report(REPORTER)
    emu, store, now = leakbot.emulator, leakbot.store, leakbot.clock.now()
    legacy_and_new = [
        (
            OutboxMessage(
                "reporter_receipt",
                "chat.postMessage",
                {"channel": REPORTER, "_render": "reporter_receipt", "_lang": "en"},
                incident_id=record.id,
            ),
            Notification(
                kind="reporter_receipt", incident_id=record.id, channel=REPORTER, lang="en"
            ).to_outbox(),
        ),
        (
            OutboxMessage(
                "decided",
                "chat.update",
                {"_ref": "recommendation", "_render": "decided"},
                incident_id=record.id,
            ),
            Notification(kind="decided", incident_id=record.id, ref="recommendation").to_outbox(),
        ),
    ]
    for legacy, new in legacy_and_new:
        before = len(emu.calls)
        await store.enqueue([legacy], now=now)
        assert await leakbot.deliver() == 1
        await store.enqueue([new], now=now)
        assert await leakbot.deliver() == 1
        old_call, new_call = emu.calls[before:]
        assert old_call.method == new_call.method == legacy.method
        assert old_call.ok and new_call.ok, (old_call.response, new_call.response)
        assert _body(old_call.args) == _body(new_call.args)
        assert record.id in str(new_call.args.get("text"))

    # A legacy text row placed in the recommendation's thread (escalations were stored so).
    await store.enqueue(
        [
            OutboxMessage(
                "escalation",
                "chat.postMessage",
                {"_thread": "recommendation", "text": "still waiting", "reply_broadcast": True},
                incident_id=record.id,
            )
        ],
        now=now,
    )
    assert await leakbot.deliver() == 1
    call = emu.calls[-1]
    assert call.ok, call.response
    assert call.args["thread_ts"] == leakbot.recommendation_ts(record)
    assert (call.args["text"], call.args["reply_broadcast"]) == ("still waiting", True)
    assert "_thread" not in call.args
    assert [item.status for item in await store.outbox_items(record.id)] == ["sent"] * 7


def test_a_notification_reads_back_as_it_was_written() -> None:
    notification = Notification(
        kind="reminder",
        incident_id="LEAK-2026-0001",
        channel="U1",
        lang="ja",
        round=2,
        facts={"titles": ["a", "b"], "hours": 24, "due": "2026-12-04T10:00:00+09:00"},
    )
    message = notification.to_outbox(dedupe_key="k")
    assert (message.kind, message.method, message.dedupe_key) == (
        "reminder",
        "chat.postMessage",
        "k",
    )
    assert "incident_id" not in message.payload["notification"]  # the row's column holds it
    assert Notification.from_payload(message.payload, message.incident_id) == notification
    update = Notification(kind="tasks_update", ref="tasks").to_outbox()
    assert update.method == "chat.update"
    with pytest.raises(ValueError, match="not a notification"):
        Notification.from_payload({"notification": {"kind": "nonsense"}}, None)


async def test_a_reassess_note_stored_with_its_due_time_only_still_sends(leakbot: Leakbot) -> None:
    """Before the partner's report became an event (issue 12) the note's facts held only the
    due time: it reads as the follow-through's missed report, re-assessed as `slow`."""
    record = await leakbot.report(REPORTER)
    await leakbot.deliver()
    due = leakbot.clock.now()
    note = Notification(
        kind="reassess_note",
        incident_id=record.id,
        thread="recommendation",
        lang="en",
        facts={"due": due.isoformat()},
    )
    await leakbot.store.enqueue([note.to_outbox()], now=due)
    assert await leakbot.deliver() == 1
    call = leakbot.emulator.calls[-1]
    assert call.ok, call.response
    assert call.args["thread_ts"] == leakbot.recommendation_ts(record)
    playbook = leakbot.app.deps.playbook
    slow = playbook.question("partner_response").choice("slow").label.get("en")
    title = playbook.deadlines["partner_report"].label.get("en")
    text = str(call.args["text"])
    assert record.id in text and f'"{title}" did not arrive' in text, text
    assert f'"partner\'s response: {slow}"' in text, text
