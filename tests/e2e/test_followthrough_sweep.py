"""The minute pass's sweep of recent decisions (`FollowThrough._sweep_decided`): a decision
whose tasks (or their thread message) a stopped process never wrote gets them on the next pass,
once; what is not a current decision of the last 7 days is left alone.

A decision without its tasks is made as a stopped process leaves it: the decision committed
through the store (`record_approval`) and nothing after it."""

from __future__ import annotations

from datetime import timedelta

from conftest import APPROVER_1, APPROVER_2, REPORTER, T0, Leakbot
from sqlalchemy import select
from test_followthrough import (
    actions,
    decide,
    reopen_round,
    run_follow_through,
    stored,
    tasks_message,
)

from bot.store import IncidentRecord
from bot.store.tables import outbox


async def decided_in_store(bot: Leakbot, incident: IncidentRecord) -> IncidentRecord:
    """The decision committed, and the process stopped before the tasks."""
    outcome = await bot.store.record_approval(
        incident.id,
        approver_id=APPROVER_1,
        action=incident.recommendation,
        required=1,
        now=bot.clock.now(),
    )
    assert outcome.kind == "decided", outcome
    return await stored(bot, incident.id)


async def tasks_keys(bot: Leakbot, incident: IncidentRecord) -> list[str]:
    """The dedupe keys of the incident's tasks messages (`tasks:<id>:<round>`)."""
    async with bot.store.read() as conn:
        rows = await conn.execute(
            select(outbox.c.dedupe_key)
            .where(outbox.c.incident_id == incident.id)
            .where(outbox.c.dedupe_key.like("tasks:%"))
            .order_by(outbox.c.id)
        )
        return [str(key) for (key,) in rows]


async def test_a_decision_without_tasks_gets_them_on_the_next_pass_once(leakbot: Leakbot) -> None:
    bot = leakbot
    normal = await decide(bot, await bot.report(REPORTER), APPROVER_1, APPROVER_2)
    normal_tasks = await bot.store.tasks_for(normal.id)
    assert normal_tasks and await tasks_keys(bot, normal) == [f"tasks:{normal.id}:1"]

    stopped = await decided_in_store(bot, await bot.report(REPORTER))
    assert stopped.decided_action == normal.decided_action
    assert await bot.store.tasks_for(stopped.id) == []

    bot.clock.advance(minutes=1)
    await run_follow_through(bot)
    swept = await bot.store.tasks_for(stopped.id)
    # The same tasks as the decision through Slack gives, and their message in the thread.
    assert [(t.kind, t.ref, t.round) for t in swept] == [
        (t.kind, t.ref, t.round) for t in normal_tasks
    ]
    assert await tasks_keys(bot, stopped) == [f"tasks:{stopped.id}:1"]
    message = tasks_message(bot, bot.recommendation_ts(stopped))
    assert all(str(t.id) in str(message["blocks"]) for t in swept)
    # The incident that had its tasks is not touched again.
    assert await bot.store.tasks_for(normal.id) == normal_tasks
    assert len(await actions(bot, normal.id, "tasks.created")) == 1

    # Later passes (within the 7 days) find the message queued and do nothing more.
    for hours in (1, 24, 24 * 6):
        bot.clock.set(T0 + timedelta(hours=hours))
        await run_follow_through(bot)
    assert await bot.store.tasks_for(stopped.id) == swept
    assert len(await actions(bot, stopped.id, "tasks.created")) == 1
    assert await tasks_keys(bot, stopped) == [f"tasks:{stopped.id}:1"]
    tasks_message(bot, bot.recommendation_ts(stopped))  # still exactly one


async def test_tasks_stored_but_their_message_not_queued_get_the_message(
    leakbot: Leakbot,
) -> None:
    bot = leakbot
    incident = await decided_in_store(bot, await bot.report(REPORTER))
    follow = bot.app.deps.follow
    planned = follow._plans(incident, [])
    created = await bot.store.create_tasks(incident.id, planned, now=bot.clock.now())
    assert await tasks_keys(bot, incident) == []  # stopped before the message

    bot.clock.advance(minutes=1)
    await run_follow_through(bot)
    assert await bot.store.tasks_for(incident.id) == created  # no new tasks
    assert len(await actions(bot, incident.id, "tasks.created")) == 1
    assert await tasks_keys(bot, incident) == [f"tasks:{incident.id}:1"]
    tasks_message(bot, bot.recommendation_ts(incident))


async def test_only_current_decisions_of_the_last_7_days_are_swept(leakbot: Leakbot) -> None:
    bot = leakbot
    old = await decided_in_store(bot, await bot.report(REPORTER))
    assert old.decided_at == T0
    bot.clock.set(T0 + timedelta(seconds=1))
    edge = await decided_in_store(bot, await bot.report(REPORTER))
    closed = await decided_in_store(bot, await bot.report(REPORTER))
    await bot.close_in_store(closed.id)
    rejected = await bot.report(REPORTER)
    outcome = await bot.store.reject(
        rejected.id, actor_id=APPROVER_1, reason="no", now=bot.clock.now()
    )
    assert outcome.kind == "rejected"

    # 7 days after `edge`'s decision: it is (just) in the window, `old` (1 s earlier) is not.
    bot.clock.set(T0 + timedelta(days=7, seconds=1))
    await run_follow_through(bot)
    assert await bot.store.tasks_for(edge.id) != []
    assert await tasks_keys(bot, edge) == [f"tasks:{edge.id}:1"]
    for left in (old, closed, rejected):
        assert await bot.store.tasks_for(left.id) == [], left.id
        assert await tasks_keys(bot, left) == [], left.id


async def test_a_new_round_decided_without_tasks_gets_that_rounds_tasks(leakbot: Leakbot) -> None:
    bot = leakbot
    first = await decide(bot, await bot.report(REPORTER), APPROVER_1, APPROVER_2)
    round1 = await bot.store.tasks_for(first.id)
    bot.clock.advance(hours=1)
    second = await decided_in_store(bot, await reopen_round(bot, first))
    assert second.round == 2

    bot.clock.advance(minutes=1)
    await run_follow_through(bot)
    tasks = await bot.store.tasks_for(first.id)
    assert tasks[: len(round1)] == round1
    assert {t.round for t in tasks[len(round1) :]} == {2}
    assert await tasks_keys(bot, first) == [f"tasks:{first.id}:1", f"tasks:{first.id}:2"]
