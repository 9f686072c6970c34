"""The path a user walks: /leak → modal steps → incident → recommendation → approval."""

from __future__ import annotations

from conftest import APPROVER_1, APPROVER_2, CHANNEL, REPORTER, Leakbot
from e2e_support import decision_blocks
from slackemu import blockkit


async def test_happy_path_japanese(leakbot: Leakbot) -> None:
    incident = await leakbot.report(REPORTER)
    assert incident.id == "LEAK-2026-0001"
    assert incident.partner == "株式会社アクメ"
    assert incident.recommendation == "suspend_and_legal"
    posted = leakbot.emulator.messages(CHANNEL)
    assert len(posted) == 1
    text = blockkit.blocks_text(posted[0]["blocks"])
    assert "LEAK-2026-0001" in text and "即時停止" in text
    leakbot.emulator.assert_no_rejections()
    await leakbot.click(incident, "leak_approve", APPROVER_1, value=incident.id)
    stored = await leakbot.store.get_incident(incident.id)
    assert stored is not None


async def test_two_approvers_decide_suspension(leakbot: Leakbot) -> None:
    incident = await leakbot.report(REPORTER)
    await leakbot.click(incident, "leak_approve", APPROVER_1, value=incident.id)
    first = await leakbot.emulator.wait_for_call("response_url")
    stored = await leakbot.store.get_incident(incident.id)
    assert stored is not None and stored.status == "pending"
    await leakbot.click(incident, "leak_approve", APPROVER_2, value=incident.id)
    await leakbot.emulator.wait_for_call("response_url", count=2)
    stored = await leakbot.store.get_incident(incident.id)
    assert stored is not None and stored.status == "decided"
    assert set(stored.decided_by) == {APPROVER_1, APPROVER_2}
    await leakbot.deliver()
    ts = leakbot.recommendation_ts(incident)
    message = leakbot.emulator.message(CHANNEL, ts)
    assert not decision_blocks(message)  # the decision buttons are gone
    assert "1/2" in first.args["text"]
