import json
from conftest import REPORTER_EN, REPORTER, CHANNEL, STEPS, Leakbot
from e2e_support import text_of, walk_to_confirm
import pytest

@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_explore(leakbot: Leakbot) -> None:
    view_id, seen = await walk_to_confirm(leakbot, REPORTER_EN, STEPS)
    for v in seen:
        print("=== VIEW"); print(text_of(v))
    await leakbot.submit_step(view_id, REPORTER_EN, {})
    print("=== DONE"); print(text_of(leakbot.emulator.view(view_id)))
    await leakbot.deliver()
    for m in leakbot.emulator.messages(CHANNEL):
        print("=== MSG"); print(text_of(m)); print(json.dumps(m["blocks"][-1], ensure_ascii=False))
    for m in leakbot.emulator.dms(REPORTER_EN):
        print("=== DM"); print(text_of(m))
    leakbot.emulator.assert_no_rejections()
