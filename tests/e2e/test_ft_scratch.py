import json
from datetime import UTC, datetime, timedelta
import pytest
from conftest import APPROVER_1, APPROVER_2, CHANNEL, REPORTER, STRANGER, MILD_STEPS, SUMMARY_CHANNEL, Leakbot
from e2e_support import text_of

@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_explore(leakbot: Leakbot) -> None:
    emu = leakbot.emulator
    mild = await leakbot.report(REPORTER, MILD_STEPS)
    await leakbot.click(mild, "leak_approve", APPROVER_1, value=mild.id)
    await emu.wait_for_call("response_url", count=1)
    await leakbot.deliver()
    tasks = await leakbot.store.tasks_for(mild.id)
    partner = next(t for t in tasks if t.ref == "partner_report")
    leakbot.clock.set(partner.due_at + timedelta(minutes=1))
    await leakbot.app.scheduler.follow_through()
    await leakbot.deliver()
    after = await leakbot.store.get_incident(mild.id)
    print("AFTER", after.status, after.round, after.recommendation, after.answers.get("partner_response"), after.assessment, after.message_ts)
    for m in emu.messages(CHANNEL):
        print("=== MSG", m.get("thread_ts"), m["ts"]); print(text_of(m)[-1500:])
    for a in await leakbot.store.audit_trail(mild.id): print("AUDIT", a.actor_id, a.action, a.after)
    # escalation of the new round
    leakbot.clock.advance(hours=4)
    await leakbot.app.scheduler.follow_through()
    await leakbot.deliver()
    for m in emu.messages(CHANNEL)[-2:]:
        print("=== MSG", m.get("thread_ts"), m["ts"]); print(text_of(m)[-500:])
    emu.assert_no_rejections()
