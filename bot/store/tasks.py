"""Follow-up tasks (deadlines and checklist items), per incident and round."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import and_, bindparam, case, false, or_, select, true
from sqlalchemy.engine import RowMapping

from .aio import AsyncConnection
from .audit import AuditEntry, append_audit
from .common import aware, insert, is_postgres, iso, to_record
from .records import IncidentNotFound, NewTask, TaskOutcome, TaskRecord
from .tables import deadline_counts, incidents, tasks


def _superseded() -> Any:
    """A later round of the task's incident has a task of the same kind and ref."""
    later = tasks.alias("later")
    return (
        select(later.c.id)
        .where(
            later.c.incident_id == tasks.c.incident_id,
            later.c.kind == tasks.c.kind,
            later.c.ref == tasks.c.ref,
            later.c.round > tasks.c.round,
        )
        # Tied to the task being tested even inside the UPDATE's scalar subquery (where
        # auto-correlation would give this EXISTS a `tasks` of its own: every earlier-round
        # deadline of the incident then counted as re-created).
        .correlate(tasks)
        .exists()
    )


def live_condition(status: Any, round_: Any) -> Any:
    """Whether a task still runs, for its incident's `status` and `round_` (values or columns):
    the incident is not closed, and the task is of its current round or a deadline of an
    earlier round that no later round re-created (legal clocks keep running while a re-assessed
    incident waits for its new decision). `tasks.live` keeps this (refresh_kept)."""
    return and_(
        status != "closed",
        or_(
            tasks.c.round >= round_,
            and_(tasks.c.kind == "deadline", ~_superseded()),
        ),
    )


# (ref, UTC day of due_at, UTC day of overdue_after): a `deadline_counts` row.
DeadlineDays = tuple[str, date, date]


def deadline_days(ref: str, due_at: datetime, overdue_after: datetime) -> DeadlineDays:
    return ref, due_at.astimezone(UTC).date(), overdue_after.astimezone(UTC).date()


async def running_deadlines(conn: AsyncConnection, incident_id: str) -> Counter[DeadlineDays]:
    """The incident's running open deadlines (what `deadline_counts` counts), by their days:
    taken before a change and given to `refresh_kept` after it."""
    rows = await conn.execute(_running_deadlines_query(), {"of_incident": incident_id})
    return Counter(
        deadline_days(row.ref, row.due_at, row.overdue_after or row.due_at) for row in rows
    )


# The statements every task write runs, built once and executed with {"of_incident": ...}:
# a statement object built per call costs its construction and its cache key each time
# (~2 ms of CPU per approval click for these two, bench/ack_statements.py).
@functools.cache
def _running_deadlines_query() -> Any:
    return select(tasks.c.ref, tasks.c.due_at, tasks.c.overdue_after).where(
        tasks.c.incident_id == bindparam("of_incident"),
        tasks.c.status == "open",
        tasks.c.kind == "deadline",
        tasks.c.live == true(),
        tasks.c.due_at.is_not(None),
    )


@functools.cache
def _refresh_live_statement() -> Any:
    incident = (
        select(incidents.c.status, incidents.c.round)
        .where(incidents.c.id == bindparam("of_incident"))
        .subquery()
    )
    now_live = select(
        case((live_condition(incident.c.status, incident.c.round), true()), else_=false())
    ).scalar_subquery()
    return (
        tasks.update()
        .where(tasks.c.incident_id == bindparam("of_incident"))
        .where(tasks.c.live != now_live)
        .values(live=now_live)
    )


async def refresh_kept(
    conn: AsyncConnection, incident_id: str, before: Counter[DeadlineDays]
) -> None:
    """After a change to the incident's status or round or to its tasks (`before`: its
    `running_deadlines` when the change began): set `tasks.live` of its tasks (a few rows; only
    those whose value changes are written) and move `deadline_counts` by the difference."""
    await conn.execute(_refresh_live_statement(), {"of_incident": incident_id})
    after = await running_deadlines(conn, incident_id)
    changes = {key: after[key] - before[key] for key in before.keys() | after.keys()}
    await count_deadlines(conn, changes)


async def count_deadlines(conn: AsyncConnection, changes: Mapping[DeadlineDays, int]) -> None:
    """Add `changes` to `deadline_counts` (one statement; in key order, so that concurrent
    writers lock the rows in the same order)."""
    rows = [
        {"ref": ref, "due_day": due_day, "overdue_day": overdue_day, "open": change}
        for (ref, due_day, overdue_day), change in sorted(changes.items())
        if change
    ]
    if not rows:
        return
    await conn.execute(_deadline_counts_upsert(is_postgres(conn)), rows)


@functools.cache
def _deadline_counts_upsert(postgres: bool) -> Any:
    """Built once per dialect (see common.insert); the rows are parameters."""
    stmt = insert(postgres, deadline_counts)
    return stmt.on_conflict_do_update(
        index_elements=[
            deadline_counts.c.ref,
            deadline_counts.c.due_day,
            deadline_counts.c.overdue_day,
        ],
        set_={"open": deadline_counts.c.open + stmt.excluded.open},
    )


def task_record(row: RowMapping) -> TaskRecord:
    return to_record(TaskRecord, row)


async def _tasks(
    conn: AsyncConnection, query: Any, params: dict[str, Any] | None = None
) -> list[TaskRecord]:
    return [task_record(row) for row in (await conn.execute(query, params)).mappings().all()]


async def insert_tasks(
    conn: AsyncConnection,
    incident_id: str,
    round_: int,
    new_tasks: Sequence[NewTask],
    *,
    now: datetime,
) -> list[int]:
    """Insert the tasks that do not exist yet (per round, kind, ref); returns the new ids."""
    return sorted((await insert_new_tasks(conn, incident_id, round_, new_tasks, now=now)).values())


async def insert_new_tasks(
    conn: AsyncConnection,
    incident_id: str,
    round_: int,
    new_tasks: Sequence[NewTask],
    *,
    now: datetime,
) -> dict[tuple[str, str], int]:
    """`insert_tasks`, returning the new ids by (kind, ref)."""
    if not new_tasks:
        return {}
    for task in new_tasks:
        if task.due_at is not None:
            aware("due_at", task.due_at)
    before = await running_deadlines(conn, incident_id)
    # One multi-row INSERT (not one per task): a decision creates ~10 tasks.
    rows = [
        {
            "incident_id": incident_id,
            "round": round_,
            "kind": task.kind,
            "ref": task.ref,
            "title": dict(task.title),
            "owner_id": task.owner_id,
            "due_at": task.due_at,
            "overdue_after": _overdue_after(task),
            "status": "open",
            "created_at": now,
            # The follow-through's next pass schedules its reminders (migration 0011).
            "next_attention_at": now if task.due_at is not None else None,
        }
        for task in new_tasks
    ]
    stmt = _insert_tasks_statement(is_postgres(conn))
    created = {
        (str(kind), str(ref)): int(new_id) for new_id, kind, ref in await conn.execute(stmt, rows)
    }
    if created:  # a later round's task takes over the earlier one of the same kind and ref
        await refresh_kept(conn, incident_id, before)
    return created


@functools.cache
def _insert_tasks_statement(postgres: bool) -> Any:
    """Built once per dialect (see common.insert); the rows are parameters."""
    return (
        insert(postgres, tasks)
        .on_conflict_do_nothing(
            index_elements=[tasks.c.incident_id, tasks.c.round, tasks.c.kind, tasks.c.ref]
        )
        .returning(tasks.c.id, tasks.c.kind, tasks.c.ref)
    )


def _overdue_after(task: NewTask) -> datetime | None:
    """Never before the due time; without one of its own, at the due time."""
    if task.due_at is None:
        return task.overdue_after and aware("overdue_after", task.overdue_after)
    if task.overdue_after is None:
        return task.due_at
    return max(task.due_at, aware("overdue_after", task.overdue_after))


def tasks_created(
    incident_id: str,
    new_tasks: Sequence[NewTask],
    created: dict[tuple[str, str], int],
    *,
    actor_id: str,
    now: datetime,
) -> AuditEntry | None:
    """The "tasks.created" audit row of the tasks just inserted (None: none was new)."""
    if not created:
        return None
    after = [
        {"id": created[(t.kind, t.ref)], "kind": t.kind, "ref": t.ref, "owner_id": t.owner_id}
        | {"due_at": iso(t.due_at) if t.due_at else None}
        for t in new_tasks
        if (t.kind, t.ref) in created
    ]
    return AuditEntry(incident_id, actor_id, "tasks.created", now, None, {"tasks": after})


async def create_tasks(
    conn: AsyncConnection,
    incident_id: str,
    new_tasks: Sequence[NewTask],
    *,
    now: datetime,
    actor_id: str,
) -> list[TaskRecord]:
    """Tasks for the incident's current round, idempotent per (round, kind, ref); audited when
    any is new. Raises IncidentNotFound."""
    aware("now", now)
    round_ = (
        await conn.execute(select(incidents.c.round).where(incidents.c.id == incident_id))
    ).scalar_one_or_none()
    if round_ is None:
        raise IncidentNotFound(incident_id)
    created = await insert_new_tasks(conn, incident_id, round_, new_tasks, now=now)
    query = select(tasks).where(tasks.c.incident_id == incident_id).where(tasks.c.round == round_)
    by_ref = {(task.kind, task.ref): task for task in await _tasks(conn, query)}
    result = [by_ref[(task.kind, task.ref)] for task in new_tasks]
    entry = tasks_created(incident_id, new_tasks, created, actor_id=actor_id, now=now)
    if entry is not None:
        await append_audit(conn, entry)
    return result


async def tasks_for(conn: AsyncConnection, incident_id: str) -> list[TaskRecord]:
    return await _tasks(conn, _TASKS_FOR, {"incident_id": incident_id})


# Built once: the outbox reads it for every tasks message it words.
_TASKS_FOR = (
    select(tasks).where(tasks.c.incident_id == bindparam("incident_id")).order_by(tasks.c.id)
)


async def get_task(conn: AsyncConnection, task_id: int) -> TaskRecord | None:
    found = await _tasks(conn, select(tasks).where(tasks.c.id == task_id))
    return found[0] if found else None


async def complete_task(
    conn: AsyncConnection, task_id: int, *, actor_id: str, now: datetime
) -> TaskOutcome:
    """Mark the task done (row locked), audited; already done / not found say so."""
    aware("now", now)
    row = (
        (
            await conn.execute(
                select(tasks).where(tasks.c.id == task_id).with_for_update(key_share=True)
            )
        )
        .mappings()
        .one_or_none()
    )
    if row is None:
        return TaskOutcome("not_found")
    if row["status"] == "done":
        return TaskOutcome("already_done", task_record(row))
    before = await running_deadlines(conn, row["incident_id"])
    done = (
        (
            await conn.execute(
                tasks.update()
                .where(tasks.c.id == task_id)
                .values(status="done", done_by=actor_id, done_at=now)
                .returning(*tasks.c)
            )
        )
        .mappings()
        .one()
    )
    record = task_record(done)
    await refresh_kept(conn, record.incident_id, before)
    await append_audit(
        conn,
        AuditEntry(
            record.incident_id,
            actor_id,
            "task.done",
            now,
            {"task_id": record.id, "status": "open"},
            {"task_id": record.id, "status": "done", "kind": record.kind, "ref": record.ref},
        ),
    )
    return TaskOutcome("done", record)
