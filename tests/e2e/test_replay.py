"""Five simultaneous copies of one signed request, over real HTTP to the real server: the replay
guard remembers the signature before it handles the request, so exactly one copy gets in."""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode

import aiohttp
from conftest import MILD_STEPS, REPORTER, SECRET, Leakbot
from slackemu import payloads, signed_headers, values_from_answers

COPIES = 5
FORM = "application/x-www-form-urlencoded"


async def test_five_simultaneous_copies_of_the_confirmation_file_one_incident(
    leakbot: Leakbot,
) -> None:
    view_id = await leakbot.open_modal(REPORTER)
    for answers in MILD_STEPS:
        reply = await leakbot.submit_step(view_id, REPORTER, answers)
        assert (reply.json or {}).get("response_action") == "update", reply.json
    # The confirmation summary's submit, signed once and sent five times at once.
    view = leakbot.emulator.view(view_id)
    payload = payloads.view_submission(
        view,
        values_from_answers(view, {}),
        user_id=REPORTER,
        trigger_id=leakbot.emulator.new_trigger_id(user_id=REPORTER, view_id=view_id),
        workspace=leakbot.emulator.workspace,
    )
    body = urlencode({"payload": payloads.dumps(payload)}).encode()
    headers = signed_headers(SECRET, int(leakbot.clock.now().timestamp()), body, content_type=FORM)

    async with aiohttp.ClientSession() as session:

        async def send() -> int:
            url = f"{leakbot.server.url}/slack/events"
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()
                return response.status

        statuses = await asyncio.gather(*(send() for _ in range(COPIES)))

    assert sorted(statuses) == [200] + [401] * (COPIES - 1), statuses
    incidents = await leakbot.store.list_incidents(limit=100)
    assert len(incidents) == 1
    trail = await leakbot.store.audit_trail(incidents[0].id)
    assert [row.action for row in trail].count("incident.created") == 1
    await leakbot.deliver()
    receipts = [
        c
        for c in leakbot.emulator.successful_calls_to("chat.postMessage")
        if c.args.get("channel") == REPORTER
    ]
    assert len(receipts) == 1
