"""The App Home's reads (bot/store/home.py) and its coalesced outbox rows, on both databases."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Select, and_, exists, func, or_, select
from sqlalchemy.engine import Connection
from test_store_listing import assert_viewers_kept
from test_summary_kept import OPERATIONS, Run, submit

from bot.notifications import HOME_WINDOW_SECONDS, home_refresh
from bot.store import IncidentRecord, NewIncident, NewTask, Store
from bot.store.migrate import alembic_config
from bot.store.tables import incident_viewers, incidents, tasks

T0 = datetime(2026, 5, 6, 9, 0, 2, tzinfo=UTC)  # a Wednesday
WEEK_START = datetime(2026, 5, 3, 15, 0, tzinfo=UTC)  # Monday 00:00 in Tokyo
Factory = Callable[..., NewIncident]
Closer = Callable[..., Awaitable[IncidentRecord]]  # the `close` fixture (conftest.py)
APPROVER = "U_APPROVER"


def task(ref: str, owner: str, due: datetime | None) -> NewTask:
    return NewTask("checklist", ref, {"ja": f"作業{ref}", "en": f"Step {ref}"}, owner, due)


async def test_what_each_person_sees(store: Store, make_new: Factory, close: Closer) -> None:
    pending, _ = await store.create_incident(make_new(reporter_id="U_R1"), now=T0)
    decided, _ = await store.create_incident(
        make_new(reporter_id="U_R2", partner="Globex"), now=T0 + timedelta(minutes=1)
    )
    rejected, _ = await store.create_incident(
        make_new(reporter_id="U_R1"), now=T0 + timedelta(minutes=2)
    )
    # One vote of two on the pending one; the second is decided; the third sent back.
    await store.record_approval(
        pending.id, approver_id=APPROVER, action="consider_suspension", required=2, now=T0
    )
    await store.record_approval(
        decided.id, approver_id=APPROVER, action="request_report", required=1, now=T0
    )
    await store.reject(rejected.id, actor_id=APPROVER, reason="no", now=T0)
    # U_R1 owns a task of U_R2's incident: one overdue, one later; U_R2 owns none.
    now = T0 + timedelta(hours=1)
    await store.create_tasks(
        decided.id,
        [task("0", "U_R1", now - timedelta(minutes=1)), task("1", "U_R1", now + timedelta(days=2))],
        now=T0,
    )

    approver = await store.home_snapshot(
        APPROVER, everyone=True, week_start=WEEK_START, now=now, limit=20
    )
    assert [(i.id, i.my_vote) for i in approver.awaiting] == [(pending.id, "consider_suspension")]
    assert [i.id for i in approver.incidents] == [decided.id, pending.id]  # newest first
    assert approver.tasks == []
    counts = approver.counts
    assert (counts.awaiting_me, counts.pending, counts.decided_open) == (1, 1, 1)
    assert (counts.opened_this_week, counts.decided_this_week) == (3, 1)

    reporter = await store.home_snapshot(
        "U_R1", everyone=False, week_start=WEEK_START, now=now, limit=20
    )
    assert reporter.awaiting == []
    # Their own open incident, and the one they own tasks of; not the rejected one.
    assert [i.id for i in reporter.incidents] == [decided.id, pending.id]
    assert [(t.ref, t.incident_id, t.partner) for t in reporter.tasks] == [
        ("0", decided.id, "Globex"),
        ("1", decided.id, "Globex"),
    ]
    assert (reporter.counts.my_open_tasks, reporter.counts.my_overdue_tasks) == (2, 1)
    assert reporter.counts.awaiting_me == 0

    other = await store.home_snapshot(
        "U_R2", everyone=False, week_start=WEEK_START, now=now, limit=20
    )
    assert [i.id for i in other.incidents] == [decided.id]
    assert (other.counts.pending, other.counts.decided_open, other.counts.opened_this_week) == (
        0,
        1,
        1,
    )

    stranger = await store.home_snapshot(
        "U_NOBODY", everyone=False, week_start=WEEK_START, now=now, limit=20
    )
    assert stranger.incidents == [] and stranger.tasks == []
    assert stranger.counts.opened_this_week == 0

    # An approver's own incident waits for the others, not for them.
    own = await store.home_snapshot("U_R1", everyone=True, week_start=WEEK_START, now=now, limit=20)
    assert own.awaiting == [] and own.counts.awaiting_me == 0

    # Closed: its tasks leave the list; the limit caps lists but not counts.
    await close(store, decided.id, actor_id=APPROVER, now=now)
    after = await store.home_snapshot(
        "U_R1", everyone=False, week_start=WEEK_START, now=now, limit=1
    )
    assert after.tasks == [] and after.counts.my_open_tasks == 0
    capped = await store.home_snapshot(
        APPROVER, everyone=True, week_start=WEEK_START, now=now, limit=1
    )
    assert len(capped.incidents) == 1 and capped.counts.pending == 1


async def test_home_rows_coalesce_per_person_and_window(store: Store) -> None:
    assert len(await store.enqueue(home_refresh(["U_A", "U_B", "U_A"], now=T0), now=T0)) == 2
    later = T0 + timedelta(seconds=1)
    assert await store.enqueue(home_refresh(["U_A"], now=later), now=later) == []
    next_window = T0 + timedelta(seconds=HOME_WINDOW_SECONDS)
    assert len(await store.enqueue(home_refresh(["U_A"], now=next_window), now=next_window)) == 1

    rows = await store.outbox_items()
    assert [(r.incident_id, r.method, r.payload["notification"]["channel"]) for r in rows] == [
        (None, "views.publish", "U_A"),
        (None, "views.publish", "U_B"),
        (None, "views.publish", "U_A"),
    ]
    # Due when their window ends: nothing before it.
    window_end = datetime.fromtimestamp(
        (int(T0.timestamp()) // HOME_WINDOW_SECONDS + 1) * HOME_WINDOW_SECONDS, UTC
    )
    assert [r.next_attempt_at for r in rows] == [
        window_end,
        window_end,
        window_end + timedelta(seconds=HOME_WINDOW_SECONDS),
    ]
    early = await store.claim_outbox(
        now=window_end - timedelta(microseconds=1), worker_id="w", limit=10
    )
    assert early == []
    assert len(await store.claim_outbox(now=window_end, worker_id="w", limit=10)) == 2


async def test_home_viewers(store: Store) -> None:
    await store.note_home_opened("U_APP", approver=True, now=T0)
    await store.note_home_opened("U_R", approver=False, now=T0)
    await store.note_home_opened("U_OLD", approver=True, now=T0 - timedelta(days=2))
    since = T0 - timedelta(hours=24)
    assert await store.home_viewers(["U_R", "U_X"], approvers=False, since=since) == {"U_R"}
    assert await store.home_viewers(["U_R"], approvers=True, since=since) == {"U_R", "U_APP"}
    assert await store.home_viewers([], approvers=True, since=since) == {"U_APP"}
    # Opened again, no longer an approver: the row is updated, not added.
    await store.note_home_opened("U_APP", approver=False, now=T0 + timedelta(hours=1))
    assert await store.home_viewers([], approvers=True, since=since) == set()
    snapshot = await store.home_snapshot(
        "U_APP", everyone=False, week_start=WEEK_START, now=T0, limit=5
    )
    assert snapshot.viewer is not None
    assert (snapshot.viewer.opened_at, snapshot.viewer.approver) == (T0 + timedelta(hours=1), False)


async def test_task_counts_stop_past_the_cap(
    store: Store, make_new: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.store import home as home_queries

    record, _ = await store.create_incident(make_new(reporter_id="U_R1"), now=T0)
    await store.record_approval(
        record.id, approver_id=APPROVER, action="request_report", required=1, now=T0
    )
    now = T0 + timedelta(hours=1)
    due = [now - timedelta(minutes=n + 1) for n in range(3)] + [now + timedelta(days=1)]
    await store.create_tasks(
        record.id, [task(str(n), "U_R1", at) for n, at in enumerate(due)], now=T0
    )

    async def counts() -> tuple[int, int]:
        snapshot = await store.home_snapshot(
            "U_R1", everyone=False, week_start=WEEK_START, now=now, limit=20
        )
        return snapshot.counts.my_open_tasks, snapshot.counts.my_overdue_tasks

    assert await counts() == (4, 3)
    monkeypatch.setattr(home_queries, "TASK_COUNT_CAP", 3)
    assert await counts() == (4, 3)  # 4 is "more than 3"
    monkeypatch.setattr(home_queries, "TASK_COUNT_CAP", 2)
    assert await counts() == (3, 3)


async def test_which_tasks_still_run_after_a_new_round(
    store: Store, make_new: Factory, close: Closer
) -> None:
    """Counted and listed alike: a new round ends the old round's checklist, not its deadlines
    (legal clocks keep running) until the new round plans the same deadline; closing ends all."""
    record, _ = await store.create_incident(make_new(reporter_id="U_R1"), now=T0)
    await store.record_approval(
        record.id, approver_id=APPROVER, action="request_report", required=1, now=T0
    )
    step = {"ja": "作業", "en": "Step"}
    await store.create_tasks(
        record.id,
        [NewTask("checklist", "c1", step, "U_R1", T0), NewTask("deadline", "d1", step, "U_R1", T0)],
        now=T0,
    )

    async def seen() -> tuple[int, list[str]]:
        snapshot = await store.home_snapshot(
            "U_R1", everyone=False, week_start=WEEK_START, now=T0, limit=20
        )
        return snapshot.counts.my_open_tasks, sorted(t.ref for t in snapshot.tasks)

    assert await seen() == (2, ["c1", "d1"])
    await store.reopen_for_new_round(
        record.id,
        assessment={"recommendation": "consider_suspension"},
        recommendation="consider_suspension",
        actor_id=APPROVER,
        reason="new facts",
        now=T0,
    )
    assert await seen() == (1, ["d1"])
    await store.record_approval(
        record.id, approver_id=APPROVER, action="request_report", required=1, now=T0
    )
    await store.create_tasks(record.id, [NewTask("deadline", "d1", step, "U_R1", T0)], now=T0)
    count, refs = await seen()
    assert (count, refs) == (1, ["d1"])  # the round-2 one only
    await close(store, record.id, actor_id=APPROVER, now=T0)
    assert await seen() == (0, [])


def _reference_open_tasks(user_id: str, now: datetime) -> Select[tuple[int, datetime]]:
    """The person's running open tasks as App Home read them before `tasks.live` (issue 14):
    each task joined to its incident (not closed; of its round, or a deadline no later round
    re-created), earliest due first."""
    later = tasks.alias("later")
    superseded = exists().where(
        later.c.incident_id == tasks.c.incident_id,
        later.c.kind == tasks.c.kind,
        later.c.ref == tasks.c.ref,
        later.c.round > tasks.c.round,
    )
    return (
        select(tasks.c.id, tasks.c.due_at)
        .select_from(tasks.join(incidents, incidents.c.id == tasks.c.incident_id))
        .where(
            tasks.c.owner_id == user_id,
            tasks.c.status == "open",
            incidents.c.status != "closed",
            or_(
                tasks.c.round == incidents.c.round,
                and_(tasks.c.kind == "deadline", ~superseded),
            ),
        )
        .order_by(tasks.c.due_at, tasks.c.id)
    )


def _reference_decided_since(user_id: str, week_start: datetime) -> Select[tuple[int]]:
    """A person's "decided this week" as App Home counted it before migration 0008: their
    incident_viewers rows joined to the incidents."""
    seen = incident_viewers
    return (
        select(func.count())
        .select_from(seen.join(incidents, incidents.c.id == seen.c.incident_id))
        .where(
            seen.c.user_id == user_id,
            incidents.c.decided_at >= week_start,
            incidents.c.decided_action.is_not(None),
        )
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_tasks_shown_equal_the_incident_rules_after_every_operation(
    store: Store, seed: int
) -> None:
    """The tab's tasks and task counts (read from `tasks.live`) and its "decided this week"
    (from `incident_viewers.decided_at`) equal the same reads over the incidents (the
    references above) through a random sequence of the application's operations:
    submit, decide with tasks, reject, new round, close, reopen, task done, new facts."""
    run = Run(store, random.Random(seed))
    for _ in range(8):
        await submit(run)
    for _ in range(60):
        await run.step()
        week_start = run.now - timedelta(days=2)
        for user_id in ("UOWNER1", "UREPORTER1"):
            async with store.read() as conn:
                rows = (await conn.execute(_reference_open_tasks(user_id, run.now))).all()
                decided = (
                    await conn.execute(_reference_decided_since(user_id, week_start))
                ).scalar_one()
            snapshot = await store.home_snapshot(
                user_id, everyone=False, week_start=week_start, now=run.now, limit=1000
            )
            assert snapshot.counts.decided_this_week == decided, run.log
            assert [t.id for t in snapshot.tasks] == [row.id for row in rows], run.log
            assert snapshot.counts.my_open_tasks == len(rows), run.log
            overdue = sum(row.due_at < run.now for row in rows)
            assert snapshot.counts.my_overdue_tasks == overdue, run.log
    assert set(run.log) == set(OPERATIONS), run.log


def _to_0007(connection: Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.downgrade(config, "0007")


async def test_migration_0008_fills_decided_at_and_goes_back(
    database_url: str, make_new: Factory, close: Closer
) -> None:
    """Upgraded from 0007 with incidents in every state (one's decision changed while nothing
    kept it), `incident_viewers.decided_at` equals the incidents'; downgraded, 0007's triggers
    keep the rows again."""
    store = await Store.open(database_url)
    try:
        made = []
        for n in range(6):
            record, _ = await store.create_incident(
                make_new(reporter_id=f"U_R{n % 2}"), now=T0 + timedelta(minutes=n)
            )
            made.append(record)
        for record in made[1:]:
            await store.record_approval(
                record.id, approver_id=APPROVER, action="request_report", required=1, now=T0
            )
        await close(store, made[2].id, actor_id=APPROVER, now=T0)
        await store.reopen_for_new_round(
            made[3].id,
            assessment={"recommendation": "request_report"},
            recommendation="request_report",
            actor_id=APPROVER,
            reason="new facts",
            now=T0,
        )
        await store.create_tasks(made[1].id, [task("0", "U_OWNER", T0)], now=T0)
        async with store._writer.begin() as conn:
            await conn.run_sync(_to_0007)
            columns = (await conn.execute(select(incident_viewers.c.user_id).limit(1))).keys()
            assert list(columns) == ["user_id"]
            # Decided again while nothing kept decided_at; a task owner added under 0007's
            # triggers.
            await conn.execute(
                incidents.update()
                .where(incidents.c.id == made[4].id)
                .values(decided_at=T0 + timedelta(days=1))
            )
            await conn.execute(
                tasks.insert().values(
                    incident_id=made[5].id,
                    round=1,
                    kind="checklist",
                    ref="1",
                    title={"en": "Step"},
                    owner_id="U_NEW",
                    status="open",
                    created_at=T0,
                )
            )
            seen = select(incident_viewers.c.incident_id).where(
                incident_viewers.c.user_id == "U_NEW"
            )
            assert (await conn.execute(seen)).scalars().all() == [made[5].id]
    finally:
        await store.close()
    store = await Store.open(database_url)  # upgraded to head again
    try:
        await assert_viewers_kept(store)
        async with store.read() as conn:
            rows = await conn.execute(
                select(incident_viewers.c.incident_id, incident_viewers.c.decided_at).where(
                    incident_viewers.c.user_id.in_(["U_R0", "U_R1"])
                )
            )
            decided = {incident_id: at for incident_id, at in rows}
        # Pending (never decided; sent back to a new round: its action cleared) have none.
        assert decided == {
            made[0].id: None,
            made[1].id: T0,
            made[2].id: T0,
            made[3].id: None,
            made[4].id: T0 + timedelta(days=1),
            made[5].id: T0,
        }
        await store.record_approval(  # the triggers of 0008 keep it from here
            made[3].id, approver_id=APPROVER, action="request_report", required=1, now=T0
        )
        await assert_viewers_kept(store)
    finally:
        await store.close()


@pytest.mark.parametrize("everyone", [True, False])
async def test_sqlite_counts_a_persons_tasks_by_their_owner_index(
    store: Store, everyone: bool
) -> None:
    """SQLite has no statistics: given two indexes with two equal columns each, it took the
    minute pass's (status, live, next_attention_at, id) for "my open tasks" and read every open
    task (~155 ms at 1,000,000 incidents). The count must read the person's own rows."""
    if store.dialect != "sqlite":
        pytest.skip("the plan checked is SQLite's (PostgreSQL plans by its statistics)")
    from sqlalchemy import event

    statements: list[tuple[str, Any]] = []

    def grab(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        if "my_open_tasks" in statement:  # the counts' statement, with its own parameters
            statements.append((statement, params))

    engine = store._engine.sync_engine
    event.listen(engine, "before_cursor_execute", grab)
    try:
        await store.home_snapshot(
            APPROVER if everyone else "U_R1",
            everyone=everyone,
            week_start=WEEK_START,
            now=T0,
            limit=20,
        )
    finally:
        event.remove(engine, "before_cursor_execute", grab)
    assert len(statements) == 1
    async with store.read() as conn:
        result = await conn.exec_driver_sql(
            f"EXPLAIN QUERY PLAN {statements[0][0]}", statements[0][1]
        )
        plan = [str(row[3]) for row in result]
    task_searches = [step for step in plan if step.startswith("SEARCH tasks")]
    assert len(task_searches) == 2, plan  # open tasks, overdue tasks
    assert all("ix_tasks_owner_id_status" in step for step in task_searches), plan
