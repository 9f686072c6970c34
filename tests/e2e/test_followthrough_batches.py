"""The follow-through's minute pass in batches (bot/followthrough.py, migration 0011): more due
rows than one batch (a batch of 1 or 2 keeps the tests small), each escalation step sent once,
a second pass in the same minute reads and sends nothing, a pass stopped mid-way is resumed by
the next, the catch-up after a stop sends only the latest step, and reminders of items due
together stay one message across batches."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar, cast

import pytest
from conftest import APPROVER_1, APPROVER_2, REPORTER, SECOND_LEVEL, T0, Leakbot
from sqlalchemy import func, select
from test_followthrough import actions, decide, dm_posts, dms_where

from bot.followthrough import FollowThrough
from bot.store import IncidentRecord, Store
from bot.store.tables import audit_log, outbox

T = TypeVar("T")


def batched(bot: Leakbot, size: int, store: Any = None) -> FollowThrough:
    """The app's follow-through with batches of `size` (`store`: another store object)."""
    deps = bot.app.deps
    return FollowThrough(
        store or bot.store, deps.service, deps.follow.config, bot.clock, batch_size=size
    )


async def escalation_rows(bot: Leakbot) -> tuple[int, int]:
    """(outbox items of escalations, escalation audit rows) in the whole database."""
    async with bot.store.read() as conn:
        items = (
            await conn.execute(select(func.count()).where(outbox.c.dedupe_key.like("escalate:%")))
        ).scalar_one()
        audits = (
            await conn.execute(select(func.count()).where(audit_log.c.action.like("escalation.%")))
        ).scalar_one()
    return int(items), int(audits)


async def steps(bot: Leakbot, incident: IncidentRecord) -> list[dict[str, Any]]:
    return [
        row.after
        for row in await bot.store.audit_trail(incident.id)
        if row.action.startswith("escalation.")
    ]


async def test_every_pending_incident_escalates_once_per_step_across_batches(
    escalating: Leakbot,
) -> None:
    bot = escalating
    reported = [await bot.report(REPORTER) for _ in range(5)]
    assert {r.recommendation for r in reported} == {"suspend_and_legal"}  # 1 h, 2 steps
    follow = batched(bot, 2)

    bot.clock.set(T0 + timedelta(minutes=59))
    await follow.run()
    assert await escalation_rows(bot) == (0, 0)

    bot.clock.set(T0 + timedelta(hours=1))
    await follow.run()
    assert await escalation_rows(bot) == (5, 5)
    for incident in reported:
        assert await steps(bot, incident) == [{"step": 1, "round": 1}]
    # A second pass in the same minute finds nothing due: it reads nothing and sends nothing.
    assert await bot.store.due_escalations(bot.clock.now(), limit=100) == []
    await follow.run()
    assert await escalation_rows(bot) == (5, 5)

    bot.clock.set(T0 + timedelta(hours=2))
    await follow.run()
    await follow.run()
    await bot.deliver()
    for incident in reported:
        assert await steps(bot, incident) == [
            {"step": 1, "round": 1},
            {"step": 2, "round": 1},
        ]
    assert len(dm_posts(bot.emulator, SECOND_LEVEL)) == 5
    # Two steps in the playbook: however long they wait, nothing more.
    bot.clock.set(T0 + timedelta(days=3))
    await follow.run()
    assert await escalation_rows(bot) == (5 + 5 * 2, 10)  # step 2: thread + the DM
    assert await bot.store.due_escalations(bot.clock.now(), limit=100) == []


class Stopped(Exception):
    """The pass stopped (a crash, a deploy) after some batches."""


class StopsAfterWrites:
    """The store, refusing every write after the first `writes`."""

    def __init__(self, store: Store, writes: int) -> None:
        self._store = store
        self.left = writes

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def write(self, fn: Callable[[Any], Awaitable[T]]) -> T:
        if self.left == 0:
            raise Stopped
        self.left -= 1
        return await self._store.write(fn)


async def test_a_pass_stopped_mid_way_is_resumed_by_the_next(escalating: Leakbot) -> None:
    bot = escalating
    reported = [await bot.report(REPORTER) for _ in range(5)]
    bot.clock.set(T0 + timedelta(hours=1, minutes=5))
    stopping = batched(bot, 2, cast(Store, StopsAfterWrites(bot.store, 1)))
    with pytest.raises(Stopped):
        await stopping.run()
    assert await escalation_rows(bot) == (2, 2)  # the first batch, committed
    bot.clock.advance(minutes=1)
    await batched(bot, 2).run()  # the next minute, another process
    assert await escalation_rows(bot) == (5, 5)
    for incident in reported:
        assert await steps(bot, incident) == [{"step": 1, "round": 1}]


async def test_after_a_stop_only_the_latest_due_step_is_sent(escalating: Leakbot) -> None:
    """Down (or, after migration 0011, not yet looked at) while both steps fell due: the second
    level hears of it once; the approvers' reminder is not sent late; the audit row says which
    step it overtook."""
    bot = escalating
    incident = await bot.report(REPORTER)
    bot.clock.set(T0 + timedelta(hours=3))
    follow = batched(bot, 2)
    await follow.run()
    await follow.run()
    await bot.deliver()
    assert await steps(bot, incident) == [{"step": 2, "round": 1, "overtaken": [1]}]
    assert await actions(bot, incident.id, "escalation.reminded") == []
    assert len(dm_posts(bot.emulator, SECOND_LEVEL)) == 1


async def test_items_due_together_are_one_reminder_across_batches(leakbot: Leakbot) -> None:
    incident = await leakbot.report(REPORTER)
    await decide(leakbot, incident, APPROVER_1, APPROVER_2)
    follow = batched(leakbot, 1)
    leakbot.clock.set(T0 + timedelta(hours=24))  # the checklist's five items fall due
    await follow.run()
    await follow.run()
    await leakbot.deliver()
    checklist = dms_where(leakbot, REPORTER, lambda text: "期限を迎えました" in text)
    assert len(checklist) == 1 and "フォローアップ5件" in checklist[0]
    sent = await actions(leakbot, incident.id, "reminder.sent")
    assert [(row.after["stage"], len(row.after["tasks"])) for row in sent] == [("due", 5)]
