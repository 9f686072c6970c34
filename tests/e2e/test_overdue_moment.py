"""When a deadline task counts as overdue: the moment stored with the task
(`tasks.overdue_after`, which the follow-through's overdue notice and the weekly summary both
go by) is the one the incident's assessment gives — the APPI preliminary report's "overdue
after 5 days" counted from awareness with closed days skipped, the others at their due time —
in every round. (tests/e2e/test_followthrough.py: the notice is posted at that moment.)"""

from __future__ import annotations

from datetime import datetime, timedelta

from conftest import APPROVER_1, APPROVER_2, MILD_STEPS, REPORTER, Leakbot
from sqlalchemy import select
from test_followthrough import decide, jst, reopen_round, stored

from bot.store import IncidentRecord
from bot.store.tables import tasks


async def stored_moments(bot: Leakbot, incident_id: str) -> dict[tuple[str, int], datetime]:
    """(ref, round) → tasks.overdue_after of the incident's deadline tasks."""
    async with bot.store.read() as conn:
        rows = await conn.execute(
            select(tasks.c.ref, tasks.c.round, tasks.c.overdue_after)
            .where(tasks.c.incident_id == incident_id)
            .where(tasks.c.kind == "deadline")
        )
        return {(str(ref), int(round_)): at for ref, round_, at in rows}


async def assert_agree(bot: Leakbot, record: IncidentRecord) -> dict[str, datetime]:
    """Each deadline task of the current round: the stored moment is the one the assessment
    records for its deadline, never before the task's own due time (a restarted partner
    report's), and the task's due time where the assessment records none."""
    recorded = {
        d["id"]: datetime.fromisoformat(d["overdue_after"])
        for d in record.assessment["deadlines"]
        if d.get("overdue_after")
    }
    moments = await stored_moments(bot, record.id)
    current: dict[str, datetime] = {}
    for task in await bot.store.tasks_for(record.id):
        if task.kind != "deadline" or task.round != record.round:
            continue
        assert task.due_at is not None
        expected = max(task.due_at, recorded.get(task.ref, task.due_at))
        assert moments[(task.ref, task.round)] == expected, task.ref
        current[task.ref] = moments[(task.ref, task.round)]
    return current


async def test_the_stored_overdue_moment_is_the_assessments(leakbot: Leakbot) -> None:
    bot = leakbot
    # Aware Thu Nov 26, 10:00 JST; personal data, Japan and the EU.
    incident = await decide(bot, await bot.report(REPORTER), APPROVER_1, APPROVER_2)
    moments = await assert_agree(bot, incident)
    due = {t.ref: t.due_at for t in await bot.store.tasks_for(incident.id)}
    # 速報: target 3 days (Sun 29th → Mon 30th), overdue after 5 (end of Tue Dec 1).
    assert moments["appi_preliminary"] == jst(1, 23, 59, month=12) + timedelta(seconds=59)
    assert due["appi_preliminary"] == jst(30, 23, 59) + timedelta(seconds=59)
    # The others count as overdue at their due time.
    for ref in ("gdpr_authority", "appi_final", "partner_report", "appi_notify_persons"):
        assert moments[ref] == due[ref], ref

    mild = await decide(bot, await bot.report(REPORTER, MILD_STEPS), APPROVER_1)
    assert set(await assert_agree(bot, mild)) == {"partner_initial", "partner_report"}


async def test_a_later_rounds_restarted_partner_report(leakbot: Leakbot) -> None:
    bot = leakbot
    incident = await decide(bot, await bot.report(REPORTER, MILD_STEPS), APPROVER_1)
    bot.clock.advance(days=3)
    second = await reopen_round(bot, incident)
    await bot.store.record_approval(
        incident.id,
        approver_id=APPROVER_1,
        action=second.recommendation,
        required=1,
        now=bot.clock.now(),
    )
    await bot.app.deps.follow.create_tasks(await stored(bot, incident.id))
    second = await stored(bot, incident.id)
    assert second.round == 2
    moments = await assert_agree(bot, second)
    first_round = await stored_moments(bot, incident.id)
    # The partner gets a fresh period from the new decision: later than round 1's.
    assert moments["partner_report"] > first_round[("partner_report", 1)]
