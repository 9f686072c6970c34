"""Follow-up tasks (deadlines and checklist items), per incident and round."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from .audit import AuditEntry, append_audit
from .common import aware, chunks, insert, iso, to_record
from .records import IncidentNotFound, NewTask, TaskOutcome, TaskRecord
from .tables import incidents, tasks


def _task(row: RowMapping) -> TaskRecord:
    return to_record(TaskRecord, row)


async def _tasks(conn: AsyncConnection, query: Any) -> list[TaskRecord]:
    return [_task(row) for row in (await conn.execute(query)).mappings().all()]


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
    # One multi-row INSERT (not one per task): a decision creates ~10 tasks.
    stmt = (
        insert(conn, tasks)
        .values(
            [
                {
                    "incident_id": incident_id,
                    "round": round_,
                    "kind": task.kind,
                    "ref": task.ref,
                    "title": dict(task.title),
                    "owner_id": task.owner_id,
                    "due_at": task.due_at,
                    "status": "open",
                    "created_at": now,
                }
                for task in new_tasks
            ]
        )
        .on_conflict_do_nothing(
            index_elements=[tasks.c.incident_id, tasks.c.round, tasks.c.kind, tasks.c.ref]
        )
        .returning(tasks.c.id, tasks.c.kind, tasks.c.ref)
    )
    return {(str(kind), str(ref)): int(new_id) for new_id, kind, ref in await conn.execute(stmt)}


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
    query = select(tasks).where(tasks.c.incident_id == incident_id).order_by(tasks.c.id)
    return await _tasks(conn, query)


async def tasks_for_incidents(
    conn: AsyncConnection, incident_ids: Iterable[str]
) -> dict[str, list[TaskRecord]]:
    """`tasks_for` of several incidents in a few queries (every id gets a list)."""
    wanted = list(dict.fromkeys(incident_ids))
    found: dict[str, list[TaskRecord]] = {incident_id: [] for incident_id in wanted}
    for chunk in chunks(wanted):
        query = select(tasks).where(tasks.c.incident_id.in_(chunk)).order_by(tasks.c.id)
        for task in await _tasks(conn, query):
            found[task.incident_id].append(task)
    return found


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
        return TaskOutcome("already_done", _task(row))
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
    record = _task(done)
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


async def open_tasks_due_before(conn: AsyncConnection, t: datetime) -> list[TaskRecord]:
    """Open tasks with due_at < t, earliest first."""
    query = (
        select(tasks)
        .where(tasks.c.status == "open")
        .where(tasks.c.due_at.is_not(None))
        .where(tasks.c.due_at < aware("t", t))
        .order_by(tasks.c.due_at, tasks.c.id)
    )
    return await _tasks(conn, query)
