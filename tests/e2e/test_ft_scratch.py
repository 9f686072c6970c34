import json
import pytest
from conftest import APPROVER_1, APPROVER_2, CHANNEL, REPORTER, MILD_STEPS, SUMMARY_CHANNEL, Leakbot
from e2e_support import text_of

@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_explore(leakbot: Leakbot) -> None:
    emu = leakbot.emulator
    inc = await leakbot.report(REPORTER)
    mild = await leakbot.report(REPORTER, MILD_STEPS)
    print("MILD", mild.recommendation, mild.answers)
    await leakbot.click(inc, "leak_approve", APPROVER_1, value=inc.id)
    await leakbot.click(inc, "leak_approve", APPROVER_2, value=inc.id)
    await emu.wait_for_call("response_url", count=2)
    await leakbot.deliver()
    for m in emu.messages(CHANNEL):
        print("=== MSG", m.get("thread_ts"), m["ts"]); print(text_of(m))
    for t in await leakbot.store.tasks_for(inc.id):
        print("TASK", t)
    await leakbot.app.scheduler.follow_through()
    await leakbot.deliver()
    for u in (REPORTER, APPROVER_1, APPROVER_2):
        for m in emu.dms(u):
            print("=== DM", u); print(text_of(m))
    leakbot.clock.set(__import__("datetime").datetime(2026,11,30,0,0,tzinfo=__import__("datetime").UTC))
    await leakbot.app.scheduler.summary_due()
    await leakbot.deliver()
    for m in emu.messages(SUMMARY_CHANNEL):
        print("=== SUMMARY"); print(text_of(m))
    emu.assert_no_rejections()
