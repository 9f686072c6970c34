"""Processes killed (SIGKILL) in the middle of a follow-through step: between claiming the
missed-partner-report job and re-opening the incident, and between queueing a reminder and
writing its audit row. Each pair is one transaction, so nothing half-done stays behind and the
next run does the step, once.

The killed process is a real `python` running leakbot's follow-through over the same database
with one failpoint armed (bot/failpoints.py); its clock is fixed to the time under test.
Nothing sleeps: the test waits for the process to exit.
"""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import datetime, timedelta

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


async def run_killed_child(
    leakbot: Leakbot, database_url: str, failpoint: str, now: datetime
) -> None:
    """leakbot's follow-through, run once at `now` in a child process armed with
    `failpoint`: it must die there (SIGKILL)."""
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
        "LEAKBOT_FAILPOINTS": f"{failpoint}=1",
        "CHILD_NOW": now.isoformat(),
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
    await run_killed_child(leakbot, database_url, "reassess.claimed", after_due)
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


async def test_sigkill_between_a_reminder_and_its_audit_row_leaves_neither(
    leakbot: Leakbot, database_url: str
) -> None:
    """The reminder and its "reminder.sent" audit row commit together: killed in between,
    neither is there, and the next run writes both, once."""
    incident = await leakbot.report(REPORTER, MILD_STEPS)
    await decide(leakbot, incident, APPROVER_1)
    checklist = [t for t in await leakbot.store.tasks_for(incident.id) if t.kind == "checklist"]
    assert checklist and checklist[0].due_at is not None
    due = checklist[0].due_at + timedelta(minutes=1)  # the "due" reminder of the checklist

    async def reminders() -> tuple[int, int]:
        queued = [i for i in await leakbot.store.outbox_items(incident.id) if i.kind == "reminder"]
        audited = await actions(leakbot, incident.id, "reminder.sent")
        return len(queued), len(audited)

    await run_killed_child(leakbot, database_url, "followthrough.enqueued", due)
    assert await reminders() == (0, 0)

    leakbot.clock.set(due)
    await run_follow_through(leakbot)
    await run_follow_through(leakbot)  # and only once
    queued, audited = await reminders()
    assert queued >= 1 and queued == audited
    assert await leakbot.store.verify_audit_chain() == []
