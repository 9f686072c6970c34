"""What the follow-through's minute pass reads (bot/store/attention.py, migration 0011): the
store sets "look now" when what escalation and reminder times depend on changes, a move is
guarded by what was read, a full batch keeps an incident's due tasks together, and the
migration's backfill."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from alembic import command
from sqlalchemy import select
from sqlalchemy.engine import Connection

from bot.store import IncidentRecord, NewIncident, NewTask, Store, attention, updates
from bot.store.attention import NextAttention, NextEscalation
from bot.store.migrate import alembic_config
from bot.store.tables import incidents, job_runs, tasks

NewIncidentFactory = Callable[..., NewIncident]  # the `make_new` fixture (tests/store/conftest.py)
Closer = Callable[..., Awaitable[IncidentRecord]]  # the `close` fixture (ditto)

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _task(ref: str, due: datetime | None, kind: str = "deadline") -> NewTask:
    return NewTask(kind, ref, {"en": ref}, "UOWNER1", due, None)  # type: ignore[arg-type]


async def _due_incidents(store: Store, now: datetime) -> dict[str, tuple[int, datetime]]:
    return {
        due.record.id: (due.record.round, due.seen)
        for due in await store.due_escalations(now, limit=100)
    }


async def _due_tasks(store: Store, now: datetime, limit: int = 100) -> dict[int, datetime]:
    return {due.task.id: due.seen for due in await store.due_attention(now, limit=limit)}


async def test_escalation_times_look_now_after_each_change(
    store: Store, make_new: NewIncidentFactory
) -> None:
    record, _ = await store.create_incident(make_new(), now=T0)
    later, _ = await store.create_incident(make_new(partner="Globex"), now=T0 + timedelta(1))
    assert await _due_incidents(store, T0) == {record.id: (1, T0)}
    step = T0 + timedelta(hours=4)
    await store.write(
        lambda conn: attention.move_escalations(conn, [NextEscalation(record.id, 1, T0, step)])
    )
    assert await _due_incidents(store, step - timedelta(seconds=1)) == {}
    assert await _due_incidents(store, T0 + timedelta(days=2)) == {
        record.id: (1, step),
        later.id: (1, T0 + timedelta(1)),
    }
    # New facts in the same round (a new assessment): looked at again at once.
    far = T0 + timedelta(days=30)
    moved_on = [NextEscalation(later.id, 1, T0 + timedelta(1), far)]
    await store.write(lambda conn: attention.move_escalations(conn, moved_on))
    facts_at = T0 + timedelta(days=2)
    await store.replace_facts(
        later.id,
        answers=later.answers,
        assessment=later.assessment,
        actor_id="UREP1",
        changes={},
        now=facts_at,
    )
    assert (await _due_incidents(store, facts_at))[later.id] == (1, facts_at)
    # A decided incident is never read; a new round (pending again) is looked at at once.
    decided = await store.record_approval(
        record.id, approver_id="UAPPROVER1", action="request_report", required=1, now=T0
    )
    assert decided.kind == "decided"
    assert record.id not in await _due_incidents(store, T0 + timedelta(days=9))
    t1 = T0 + timedelta(days=3)
    await store.reopen_for_new_round(
        record.id,
        assessment={"recommendation": "request_report"},
        recommendation="request_report",
        actor_id="leakbot",
        reason="reassessed",
        now=t1,
    )
    assert (await _due_incidents(store, t1))[record.id] == (2, t1)
    # A pass that read round 1 cannot move round 2's time on.
    stale = NextEscalation(record.id, 1, t1, None)
    await store.write(lambda conn: attention.move_escalations(conn, [stale]))
    assert (await _due_incidents(store, t1))[record.id] == (2, t1)


async def test_attention_times_look_now_and_batches_keep_an_incident_together(
    store: Store, make_new: NewIncidentFactory, close: Closer
) -> None:
    first, _ = await store.create_incident(make_new(), now=T0)
    second, _ = await store.create_incident(make_new(partner="Globex"), now=T0)
    due = T0 + timedelta(days=3)
    a = await store.create_tasks(
        first.id,
        [_task("a1", due), _task("a2", due, "checklist"), _task("a3", due, "checklist")],
        now=T0,
        actor_id="UAPPROVER1",
    )
    b = await store.create_tasks(
        second.id,
        [_task("b1", due), _task("b2", None, "checklist")],
        now=T0 + timedelta(minutes=1),
        actor_id="UAPPROVER1",
    )
    # Without a due time nothing ever falls due for a task.
    assert await _due_tasks(store, T0 + timedelta(days=30)) == {
        a[0].id: T0,
        a[1].id: T0,
        a[2].id: T0,
        b[0].id: T0 + timedelta(minutes=1),
    }
    # A full batch of 2 ends in the middle of `first`'s tasks: it takes the third too.
    assert list(await _due_tasks(store, T0 + timedelta(days=30), limit=2)) == [
        a[0].id,
        a[1].id,
        a[2].id,
    ]
    remind = due - timedelta(hours=24)
    moves = [NextAttention(task.id, due, T0, remind) for task in a]
    await store.write(lambda conn: attention.move_attention(conn, moves))
    assert await _due_tasks(store, remind - timedelta(seconds=1)) == {
        b[0].id: T0 + timedelta(minutes=1)
    }
    # Done: never read again. A moved due time: looked at again, and a move computed for
    # the old due time is refused.
    await store.complete_task(a[1].id, actor_id="UOWNER1", now=T0 + timedelta(hours=1))
    moved = due + timedelta(days=2)
    await store.write(
        lambda conn: updates.move_open_tasks(conn, first.id, {a[0].id: (moved, None)})
    )
    assert await _due_tasks(store, T0 + timedelta(hours=2)) == {
        a[0].id: T0,
        b[0].id: T0 + timedelta(minutes=1),
    }
    stale = [NextAttention(a[0].id, due, T0, None)]
    await store.write(lambda conn: attention.move_attention(conn, stale))
    assert a[0].id in await _due_tasks(store, T0 + timedelta(hours=2))
    # Closing stops every task of the incident: none is read.
    await close(store, first.id, actor_id="UAPPROVER1", now=T0)
    assert await _due_tasks(store, T0 + timedelta(days=30)) == {b[0].id: T0 + timedelta(minutes=1)}
    # Reopened: its open tasks run again, from where they were (a[2] was moved on above).
    await store.reopen_closed(first.id, actor_id="UAPPROVER1", now=T0 + timedelta(hours=3))
    assert await _due_tasks(store, T0 + timedelta(days=30)) == {
        a[0].id: T0,
        a[2].id: remind,
        b[0].id: T0 + timedelta(minutes=1),
    }


def _downgrade_to_0010(connection: Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.downgrade(config, "0010")


async def test_migration_0011_backfills_look_now(
    database_url: str, make_new: NewIncidentFactory
) -> None:
    """Pending incidents and open tasks with a due time: "look now" (their creation); the
    rest: nothing to look at."""
    store = await Store.open(database_url)
    try:
        pending, _ = await store.create_incident(make_new(), now=T0)
        decided, _ = await store.create_incident(make_new(partner="Globex"), now=T0)
        await store.record_approval(
            decided.id, approver_id="UAPPROVER1", action="request_report", required=1, now=T0
        )
        t1 = T0 + timedelta(hours=1)
        made = await store.create_tasks(
            decided.id,
            [_task("open", T0 + timedelta(3)), _task("done", T0), _task("no_due", None)],
            now=t1,
            actor_id="UAPPROVER1",
        )
        await store.complete_task(made[1].id, actor_id="UOWNER1", now=t1)
        async with store._writer.begin() as conn:
            await conn.run_sync(_downgrade_to_0010)
        assert (await store.migration_status()).current == "0010"
    finally:
        await store.close()
    upgraded = await Store.open(database_url)  # to head: the backfill
    try:
        async with upgraded.read() as conn:
            escalation = dict(
                (await conn.execute(select(incidents.c.id, incidents.c.next_escalation_at))).all()
            )
            attention_at = dict(
                (await conn.execute(select(tasks.c.ref, tasks.c.next_attention_at))).all()
            )
        assert escalation == {pending.id: T0, decided.id: None}
        assert attention_at == {"open": t1, "done": None, "no_due": None}
        assert await _due_incidents(upgraded, T0) == {pending.id: (1, T0)}
        assert await _due_tasks(upgraded, t1) == {made[0].id: t1}
    finally:
        await upgraded.close()


async def _settings_keys(store: Store) -> list[str]:
    async with store.read() as conn:
        rows = await conn.execute(select(job_runs.c.key).order_by(job_runs.c.key))
        return [key for key in rows.scalars() if key.startswith(attention.SETTINGS_KEY)]


async def _times(store: Store) -> tuple[dict[str, datetime | None], dict[str, datetime | None]]:
    async with store.read() as conn:
        escalation = dict(
            (await conn.execute(select(incidents.c.id, incidents.c.next_escalation_at))).all()
        )
        attention_at = dict(
            (await conn.execute(select(tasks.c.ref, tasks.c.next_attention_at))).all()
        )
    return escalation, attention_at


async def test_new_settings_set_every_live_time_ahead_to_look_now(
    store: Store, make_new: NewIncidentFactory, close: Closer
) -> None:
    """Pending incidents and open tasks (running or not) whose time is ahead or NULL: "look
    now", in batches; already due, decided, done or without a due time: left. The fingerprint
    applied last is the one kept: the same again changes nothing, going back to an earlier one
    is a change."""
    pending = [(await store.create_incident(make_new(), now=T0))[0] for _ in range(4)]
    decided, _ = await store.create_incident(make_new(partner="Globex"), now=T0)
    closed, _ = await store.create_incident(make_new(partner="Initech"), now=T0)
    for record in (decided, closed):
        await store.record_approval(
            record.id, approver_id="UAPPROVER1", action="request_report", required=1, now=T0
        )
    due = T0 + timedelta(days=3)
    running = await store.create_tasks(
        decided.id,
        [
            _task("ahead1", due),
            _task("ahead2", due),
            _task("ahead3", due),
            _task("passed", due),
            _task("due", due),
            _task("done", due),
            _task("no_due", None),
        ],
        now=T0,
        actor_id="UAPPROVER1",
    )
    stopped = await store.create_tasks(
        closed.id, [_task("stopped", due)], now=T0, actor_id="UAPPROVER1"
    )
    ahead = due - timedelta(hours=24)
    # The incidents: three with a step ahead, one with none left; the fourth is due.
    await store.write(
        lambda conn: attention.move_escalations(
            conn,
            [NextEscalation(r.id, 1, T0, ahead) for r in pending[:2]]
            + [NextEscalation(pending[2].id, 1, T0, None)],
        )
    )
    by_ref = {task.ref: task for task in running + stopped}
    moves = [NextAttention(by_ref[ref].id, due, T0, ahead) for ref in ("ahead1", "ahead2")]
    moves += [NextAttention(by_ref["ahead3"].id, due, T0, ahead + timedelta(hours=1))]
    moves += [NextAttention(by_ref["passed"].id, due, T0, None)]
    moves += [NextAttention(by_ref["stopped"].id, due, T0, ahead)]
    await store.write(lambda conn: attention.move_attention(conn, moves))
    await store.complete_task(by_ref["done"].id, actor_id="UOWNER1", now=T0)
    await close(store, closed.id, actor_id="UAPPROVER1", now=T0)
    assert by_ref["stopped"].id not in await _due_tasks(store, T0 + timedelta(days=30))

    now = T0 + timedelta(hours=1)
    reset = await store.follow_attention_settings("a" * 64, now=now, batch_size=2)
    assert reset == attention.LookNow(incidents=3, tasks=5)
    escalation, attention_at = await _times(store)
    assert escalation == {
        pending[0].id: now,
        pending[1].id: now,
        pending[2].id: now,
        pending[3].id: T0,  # due already: the next pass reads it anyway
        decided.id: T0,  # not pending: never read, left as it was
        closed.id: T0,
    }
    assert attention_at == {
        "ahead1": now,
        "ahead2": now,
        "ahead3": now,
        "passed": now,
        "due": T0,
        "done": T0,  # not open: never read, left as it was
        "no_due": None,
        "stopped": now,  # read from here when the incident is reopened
    }
    assert await _settings_keys(store) == [attention.SETTINGS_KEY + "a" * 64]
    # The same settings again (a restart, another replica): nothing.
    await store.write(
        lambda conn: attention.move_escalations(
            conn, [NextEscalation(pending[0].id, 1, now, ahead)]
        )
    )
    assert await store.follow_attention_settings("a" * 64, now=now, batch_size=2) is None
    assert (await _times(store))[0][pending[0].id] == ahead
    # Other settings, then back to the first: a change each time.
    later = now + timedelta(minutes=1)
    assert await store.follow_attention_settings("b" * 64, now=later, batch_size=100) == (
        attention.LookNow(incidents=1, tasks=0)
    )
    assert await _settings_keys(store) == [attention.SETTINGS_KEY + "b" * 64]
    await store.write(
        lambda conn: attention.move_escalations(
            conn, [NextEscalation(pending[0].id, 1, later, ahead)]
        )
    )
    assert await store.follow_attention_settings("a" * 64, now=later, batch_size=100) == (
        attention.LookNow(incidents=1, tasks=0)
    )
    assert await _settings_keys(store) == [attention.SETTINGS_KEY + "a" * 64]
