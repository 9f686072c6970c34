"""New facts for an incident (issue 12): its answers and assessment replaced in place, and its
follow-ups kept in step with the new deadlines. Connection-level functions; the `Store` facade
runs them via `Database.write()`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import RowMapping

from .aio import AsyncConnection
from .audit import AuditEntry, append_audit
from .common import aware
from .incidents import incident_record, lock_incident
from .outbox import OutboxSpec, enqueue, render
from .records import IncidentNotFound, IncidentRecord, TaskDue
from .tables import incidents, tasks
from .tasks import refresh_kept, running_deadlines


async def _replace_row(
    conn: AsyncConnection,
    incident_id: str,
    *,
    answers: Mapping[str, Any],
    assessment: Mapping[str, Any],
    now: datetime,
) -> RowMapping:
    """The answers and the assessment snapshot replaced; status, round and decision kept."""
    return (
        (
            await conn.execute(
                incidents.update()
                .where(incidents.c.id == incident_id)
                .values(
                    answers=dict(answers),
                    assessment=dict(assessment),
                    updated_at=now,
                    # A new assessment may move its escalation times: the next pass looks
                    # ("look now", migration 0011), as update_incident does.
                    next_escalation_at=now,
                )
                .returning(*incidents.c)
            )
        )
        .mappings()
        .one()
    )


async def cancel_open_tasks(
    conn: AsyncConnection, incident_id: str, task_ids: Iterable[int]
) -> list[dict[str, Any]]:
    """Remove open follow-ups that no longer apply (their deadline is gone); returns what was
    removed, for the audit row. Done ones are never touched."""
    wanted = list(task_ids)
    if not wanted:
        return []
    condition = (
        (tasks.c.incident_id == incident_id) & tasks.c.id.in_(wanted) & (tasks.c.status == "open")
    )
    rows = (
        (await conn.execute(select(tasks.c.id, tasks.c.ref, tasks.c.round).where(condition)))
        .mappings()
        .all()
    )
    await conn.execute(tasks.delete().where(condition))
    return [{"task": row["id"], "ref": row["ref"], "round": row["round"]} for row in rows]


async def move_open_tasks(
    conn: AsyncConnection, incident_id: str, due: Mapping[int, TaskDue]
) -> list[dict[str, Any]]:
    """New due times (and overdue-after moments) for open follow-ups whose deadline moved;
    returns what moved."""
    moved: list[dict[str, Any]] = []
    for task_id, (due_at, overdue_after) in due.items():
        aware("due_at", due_at)
        row = (
            await conn.execute(
                tasks.update()
                .where(tasks.c.incident_id == incident_id)
                .where(tasks.c.id == task_id)
                .where(tasks.c.status == "open")
                .values(
                    due_at=due_at,
                    overdue_after=max(due_at, overdue_after or due_at),
                    # Its reminders move too: the follow-through's next pass looks at it again
                    # ("look now": its creation, a moment not after this change; 0011).
                    next_attention_at=tasks.c.created_at,
                )
                .returning(tasks.c.id, tasks.c.ref)
            )
        ).first()
        if row is not None:
            moved.append({"task": row.id, "ref": row.ref, "due": due_at.isoformat()})
    return moved


async def replace_facts(
    conn: AsyncConnection,
    incident_id: str,
    *,
    answers: Mapping[str, Any],
    assessment: Mapping[str, Any],
    actor_id: str,
    changes: Mapping[str, Any],
    now: datetime,
    outbox: OutboxSpec,
) -> IncidentRecord:
    """New answers and assessment in the same round (the recommendation did not change):
    the decision stands. Raises IncidentNotFound."""
    aware("now", now)
    current = await lock_incident(conn, incident_id)
    if current is None:
        raise IncidentNotFound(incident_id)
    row = await _replace_row(conn, incident_id, answers=answers, assessment=assessment, now=now)
    updated = incident_record(row)
    await enqueue(conn, render(outbox, updated), now=now, incident_id=incident_id)
    await append_audit(
        conn,
        AuditEntry(
            incident_id,
            actor_id,
            "incident.updated",
            now,
            {"answers": current.answers, "round": current.round},
            {"answers": updated.answers, "changes": dict(changes)},
        ),
    )
    return updated


async def adjust_tasks(
    conn: AsyncConnection,
    incident_id: str,
    *,
    cancel: Sequence[int],
    move: Mapping[int, TaskDue],
    actor_id: str,
    now: datetime,
) -> None:
    """Open follow-ups whose deadline no longer applies are cancelled (removed), those whose
    deadline moved get the new due time; one audit row says which."""
    aware("now", now)
    before = await running_deadlines(conn, incident_id)
    cancelled = await cancel_open_tasks(conn, incident_id, cancel)
    moved = await move_open_tasks(conn, incident_id, move)
    if cancelled or moved:  # an earlier round's task of a cancelled deadline may run again
        await refresh_kept(conn, incident_id, before)
    if cancelled or moved:
        await append_audit(
            conn,
            AuditEntry(
                incident_id,
                actor_id,
                "tasks.adjusted",
                now,
                None,
                {"cancelled": cancelled, "moved": moved},
            ),
        )
