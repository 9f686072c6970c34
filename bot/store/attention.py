"""What the follow-through's minute pass reads and moves on: the pending incidents whose next
escalation step and the open tasks whose next reminder or overdue moment has come (migration
0011: `incidents.next_escalation_at`, `tasks.next_attention_at`).

Each read is one batch in (time, id) order; the caller moves each row on to its next moment
(later than now) or to NULL, so the next batch starts where this one ended. A move is guarded by
the value the row was read with (and the round or due time it was computed for): a change made
meanwhile (a new round, a moved deadline) set "look now" again, and that wins.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, select, true

from .aio import AsyncConnection
from .common import aware
from .records import TaskRecord
from .tables import incidents, tasks
from .tasks import task_record


@dataclass(frozen=True, slots=True)
class Due:
    """A row whose time has come, with the time it was read with (`seen`)."""

    seen: datetime


@dataclass(frozen=True, slots=True)
class PendingIncident:
    """What the minute pass needs of a pending incident to time and word its escalations."""

    id: str
    round: int
    recommendation: str
    created_at: datetime
    assessed_at: str | None  # the assessment's ISO time (None: older snapshots)


@dataclass(frozen=True, slots=True)
class DueIncident(Due):
    record: PendingIncident


@dataclass(frozen=True, slots=True)
class DueTask(Due):
    task: TaskRecord
    # When it counts as overdue (tasks.overdue_after; the weekly summary counts by it too).
    overdue_after: datetime | None


@dataclass(frozen=True, slots=True)
class NextEscalation:
    incident_id: str
    round: int
    seen: datetime
    at: datetime | None


@dataclass(frozen=True, slots=True)
class NextAttention:
    task_id: int
    due_at: datetime
    seen: datetime
    at: datetime | None


async def due_escalations(conn: AsyncConnection, now: datetime, *, limit: int) -> list[DueIncident]:
    """Up to `limit` pending incidents whose next escalation time is not after `now`, earliest
    first (the index on (status, next_escalation_at, id))."""
    aware("now", now)
    rows = await conn.execute(_due_escalations_statement(), {"now": now, "limit": limit})
    return [
        DueIncident(
            seen=row.next_escalation_at,
            record=PendingIncident(
                row.id, row.round, row.recommendation, row.created_at, row.assessed_at
            ),
        )
        for row in rows.all()
    ]


@functools.cache
def _due_escalations_statement() -> Select[Any]:
    # The columns it needs, the assessment's time read by the database: whole rows (answers,
    # the assessment's panel) cost ~10 MB of RSS for a first pass over 300 fresh incidents
    # after a restart (bench/memory_startup.py), memory Python keeps.
    time_type = incidents.c.created_at.type
    return (
        select(
            incidents.c.id,
            incidents.c.round,
            incidents.c.recommendation,
            incidents.c.created_at,
            incidents.c.next_escalation_at,
            incidents.c.assessment["assessed_at"].as_string().label("assessed_at"),
        )
        .where(incidents.c.status == "pending")
        .where(incidents.c.next_escalation_at <= bindparam("now", type_=time_type))
        .order_by(incidents.c.next_escalation_at, incidents.c.id)
        .limit(bindparam("limit"))
    )


async def move_escalations(conn: AsyncConnection, moves: Sequence[NextEscalation]) -> None:
    """Each incident's next escalation time, unless it changed since it was read."""
    if moves:
        await conn.execute(
            _move_escalation(),
            [
                {"of_id": m.incident_id, "of_round": m.round, "seen": m.seen, "next_at": m.at}
                for m in moves
            ],
        )


@functools.cache
def _move_escalation() -> Any:
    return (
        incidents.update()
        .where(incidents.c.id == bindparam("of_id"))
        .where(incidents.c.round == bindparam("of_round"))
        .where(
            incidents.c.next_escalation_at == bindparam("seen", type_=incidents.c.created_at.type)
        )
        .values(next_escalation_at=bindparam("next_at", type_=incidents.c.created_at.type))
    )


async def due_attention(conn: AsyncConnection, now: datetime, *, limit: int) -> list[DueTask]:
    """Up to `limit` open running tasks whose next attention time is not after `now`, earliest
    first — and, when the batch is full, the other due tasks of its last incident, so that one
    person's reminder about items due together is never split between two batches."""
    aware("now", now)
    due = (
        select(tasks)
        .where(tasks.c.status == "open")
        .where(tasks.c.live == true())
        .where(tasks.c.next_attention_at <= now)
    )
    rows = list(
        (await conn.execute(due.order_by(tasks.c.next_attention_at, tasks.c.id).limit(limit)))
        .mappings()
        .all()
    )
    if len(rows) == limit and rows:
        seen = {row["id"] for row in rows}
        rest = await conn.execute(
            due.where(tasks.c.incident_id == rows[-1]["incident_id"]).order_by(tasks.c.id)
        )
        rows += [row for row in rest.mappings().all() if row["id"] not in seen]
    return [
        DueTask(row["next_attention_at"], task_record(row), row["overdue_after"]) for row in rows
    ]


async def move_attention(conn: AsyncConnection, moves: Sequence[NextAttention]) -> None:
    """Each task's next attention time, unless it (or its due time) changed since it was read."""
    if moves:
        await conn.execute(
            _move_attention(),
            [
                {"of_id": m.task_id, "of_due": m.due_at, "seen": m.seen, "next_at": m.at}
                for m in moves
            ],
        )


@functools.cache
def _move_attention() -> Any:
    time_type = tasks.c.created_at.type
    return (
        tasks.update()
        .where(tasks.c.id == bindparam("of_id"))
        .where(tasks.c.due_at == bindparam("of_due", type_=time_type))
        .where(tasks.c.next_attention_at == bindparam("seen", type_=time_type))
        .values(next_attention_at=bindparam("next_at", type_=time_type))
    )
