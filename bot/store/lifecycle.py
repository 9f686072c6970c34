"""Closing and reopening incidents (issue 12); the filtered incident list is bot/store/listing.py.

Connection-level functions; the `Store` facade runs them via `Database.read()` / `write()`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import RowMapping

from .aio import AsyncConnection
from .audit import AuditEntry, append_audit
from .common import aware
from .incidents import lock_incident, update_incident
from .outbox import OutboxSpec, enqueue, render
from .records import IncidentNotFound, IncidentRecord
from .tables import incident_closures, tasks
from .tasks import refresh_kept, running_deadlines


@dataclass(frozen=True, slots=True)
class ClosureRecord:
    incident_id: str
    round: int
    outcome: str
    note: str | None
    regulator: list[dict[str, Any]]
    closed_by: str
    closed_at: datetime
    reopened_by: str | None
    reopened_at: datetime | None


def _closure(row: RowMapping) -> ClosureRecord:
    return ClosureRecord(
        incident_id=row["incident_id"],
        round=row["round"],
        outcome=row["outcome"],
        note=row["note"],
        regulator=list(row["regulator"] or []),
        closed_by=row["closed_by"],
        closed_at=row["closed_at"],
        reopened_by=row["reopened_by"],
        reopened_at=row["reopened_at"],
    )


async def insert_closure(
    conn: AsyncConnection,
    *,
    incident_id: str,
    round_: int,
    outcome: str,
    note: str | None,
    regulator: Sequence[Mapping[str, Any]],
    actor_id: str,
    now: datetime,
) -> ClosureRecord:
    row = (
        (
            await conn.execute(
                incident_closures.insert()
                .values(
                    incident_id=incident_id,
                    round=round_,
                    outcome=outcome,
                    note=note,
                    regulator=[dict(item) for item in regulator],
                    closed_by=actor_id,
                    closed_at=now,
                )
                .returning(*incident_closures.c)
            )
        )
        .mappings()
        .one()
    )
    return _closure(row)


async def latest_closure(conn: AsyncConnection, incident_id: str) -> ClosureRecord | None:
    row = (
        (
            await conn.execute(
                select(incident_closures)
                .where(incident_closures.c.incident_id == incident_id)
                .order_by(incident_closures.c.id.desc())
                .limit(1)
            )
        )
        .mappings()
        .one_or_none()
    )
    return None if row is None else _closure(row)


async def mark_reopened(
    conn: AsyncConnection, incident_id: str, *, actor_id: str, now: datetime
) -> None:
    latest = (
        select(func.max(incident_closures.c.id))
        .where(incident_closures.c.incident_id == incident_id)
        .scalar_subquery()
    )
    await conn.execute(
        incident_closures.update()
        .where(incident_closures.c.id == latest)
        .where(incident_closures.c.reopened_at.is_(None))
        .values(reopened_by=actor_id, reopened_at=now)
    )


async def complete_tasks(
    conn: AsyncConnection, task_ids: Iterable[int], *, actor_id: str, now: datetime
) -> list[int]:
    """Mark open tasks done (those confirmed done when closing); returns the ids changed."""
    wanted = list(task_ids)
    if not wanted:
        return []
    rows = await conn.execute(
        tasks.update()
        .where(tasks.c.id.in_(wanted))
        .where(tasks.c.status == "open")
        .values(status="done", done_by=actor_id, done_at=now)
        .returning(tasks.c.id)
    )
    return [int(task_id) for task_id in rows.scalars().all()]


async def close_with_outcome(
    conn: AsyncConnection,
    incident_id: str,
    *,
    actor_id: str,
    outcome: str,
    note: str | None,
    regulator: Sequence[Mapping[str, Any]],
    done_task_ids: Sequence[int],
    now: datetime,
    outbox: OutboxSpec,
) -> IncidentRecord | None:
    """Close with an outcome, marking the tasks confirmed done; None when it was closed
    already (nothing changes). Raises IncidentNotFound."""
    aware("now", now)
    current = await lock_incident(conn, incident_id)
    if current is None:
        raise IncidentNotFound(incident_id)
    if current.status == "closed":
        return None
    before = await running_deadlines(conn, incident_id)
    updated = await update_incident(
        conn, incident_id, from_status=current.status, status="closed", updated_at=now
    )
    await insert_closure(
        conn,
        incident_id=incident_id,
        round_=current.round,
        outcome=outcome,
        note=note,
        regulator=regulator,
        actor_id=actor_id,
        now=now,
    )
    done = await complete_tasks(conn, done_task_ids, actor_id=actor_id, now=now)
    await refresh_kept(conn, incident_id, before)
    await enqueue(conn, render(outbox, updated), now=now, incident_id=incident_id)
    after = {
        "status": "closed",
        "outcome": outcome,
        "note": note,
        "regulator": [dict(item) for item in regulator],
        "tasks_done": done,
    }
    await append_audit(
        conn,
        AuditEntry(
            incident_id, actor_id, "incident.closed", now, {"status": current.status}, after
        ),
    )
    return updated


async def reopen_closed(
    conn: AsyncConnection,
    incident_id: str,
    *,
    actor_id: str,
    now: datetime,
    outbox: OutboxSpec,
) -> IncidentRecord | None:
    """A closed incident back to where it was (decided, sent back or pending); None when it
    was not closed. Raises IncidentNotFound."""
    aware("now", now)
    current = await lock_incident(conn, incident_id)
    if current is None:
        raise IncidentNotFound(incident_id)
    if current.status != "closed":
        return None
    if current.decided_action is not None:
        status = "decided"
    elif current.decided_by:
        status = "rejected"
    else:
        status = "pending"
    before = await running_deadlines(conn, incident_id)
    updated = await update_incident(
        conn, incident_id, from_status=current.status, status=status, updated_at=now
    )
    await refresh_kept(conn, incident_id, before)
    await mark_reopened(conn, incident_id, actor_id=actor_id, now=now)
    await enqueue(conn, render(outbox, updated), now=now, incident_id=incident_id)
    await append_audit(
        conn,
        AuditEntry(
            incident_id,
            actor_id,
            "incident.reopened_after_close",
            now,
            {"status": "closed"},
            {"status": status},
        ),
    )
    return updated
