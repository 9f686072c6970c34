"""A process killed (SIGKILL) between claiming the missed-partner-report job and re-opening the
incident: the claim and the re-open are one transaction, so the next run still re-opens it, once.

The killed process is a real `python` running leakbot's follow-through over the same database,
with the `reassess.claimed` failpoint armed (bot/failpoints.py); its clock is fixed to a time
after the partner report's due time. Nothing sleeps: the test waits for the process to exit.
"""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import timedelta

from conftest import APPROVER_1, CHANNEL, GROUP, MILD_STEPS, REPORTER, SECRET, Leakbot
from test_followthrough import actions, decide, run_follow_through, stored

WAIT = 60.0  # seconds: a bound on waiting for the child process, never a sleep

# The child: leakbot built from its settings (environment), its follow-through run once at NOW.
CHILD = """
import asyncio, os
from datetime import datetime
from bot.config import load_settings
from bot.domain.playbook import load_playbook
from bot.slack.app import build_app
from bot.store import Store

class Fixed:
    def now(self):
        return datetime.fromisoformat(os.environ["CHILD_NOW"])

async def main():
    settings = load_settings(_env_file=None)
    store = await Store.open(settings.DATABASE_URL)
    app = build_app(settings, store, load_playbook(settings.LEAKBOT_PLAYBOOK), Fixed(),
                    run_outbox=False)
    await app.deps.follow.run()
    await store.close()

asyncio.run(main())
"""


async def test_sigkill_between_claim_and_reopen_still_reopens(
    leakbot: Leakbot, database_url: str
) -> None:
    incident = await leakbot.report(REPORTER, MILD_STEPS)
    await decide(leakbot, incident, APPROVER_1)
    partner = next(
        t for t in await leakbot.store.tasks_for(incident.id) if t.ref == "partner_report"
    )
    assert partner.due_at is not None
    after_due = partner.due_at + timedelta(minutes=1)

    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("SLACK_", "LEAKBOT_", "DATABASE_URL"))
        },
        "SLACK_BOT_TOKEN": "xoxb-e2e-token",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": leakbot.emulator.api_url,
        "DATABASE_URL": database_url,
        "LEAKBOT_ESCALATION_CHANNEL": CHANNEL,
        "LEAKBOT_APPROVERS": f"{APPROVER_1},{GROUP}",
        "LEAKBOT_FAILPOINTS": "reassess.claimed=1",
        "CHILD_NOW": after_due.isoformat(),
    }
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CHILD,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(child.communicate(), WAIT)
    assert child.returncode == -9, stderr.decode(errors="replace")[-3000:]
    # Killed after the claim: nothing of it committed, the incident is still decided.
    assert (await stored(leakbot, incident.id)).status == "decided"
    assert await actions(leakbot, incident.id, "incident.reopened") == []

    leakbot.clock.set(after_due + timedelta(minutes=1))
    await run_follow_through(leakbot)
    await run_follow_through(leakbot)  # and only once
    record = await stored(leakbot, incident.id)
    assert record.status == "pending" and record.round == 2
    assert len(await actions(leakbot, incident.id, "incident.reopened")) == 1
    assert await leakbot.store.verify_audit_chain() == []
