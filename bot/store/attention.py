"""What the follow-through's minute pass reads and moves on: the pending incidents whose next
escalation step and the open tasks whose next reminder or overdue moment has come (migration
0011: `incidents.next_escalation_at`, `tasks.next_attention_at`).

Each read is one batch in (time, id) order; the caller moves each row on to its next moment
(later than now) or to NULL, so the next batch starts where this one ended. A move is guarded by
the value the row was read with (and the round or due time it was computed for): a change made
meanwhile (a new round, a moved deadline) set "look now" again, and that wins.

The times follow the settings they were computed from (`bot.domain.followups.attention_settings`);
`job_runs` keeps the fingerprint of the settings they follow (`attention-settings:<hash>`). When
the app starts with other settings, every live row whose time is still ahead (or NULL: nothing
left) is set to "look now", in batches, and then the new fingerprint replaces the old one.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, false, select, true

from .aio import AsyncConnection
from .common import aware
from .events_jobs import claim_job
from .records import SYSTEM_ACTOR, TaskRecord
from .tables import incidents, job_runs, tasks
from .tasks import task_record

# `job_runs` key prefix of the settings the stored times follow (one row: the last applied).
SETTINGS_KEY = "attention-settings:"


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


@dataclass(frozen=True, slots=True)
class LookNow:
    """How many rows a settings change set to "look now"."""

    incidents: int
    tasks: int


async def settings_applied(conn: AsyncConnection, fingerprint: str) -> bool:
    """Whether the stored times follow the settings of `fingerprint` (it was recorded last)."""
    key = SETTINGS_KEY + fingerprint
    return (
        await conn.execute(select(job_runs.c.key).where(job_runs.c.key == key))
    ).first() is not None


async def record_settings(conn: AsyncConnection, fingerprint: str, *, now: datetime) -> None:
    """`fingerprint` is the settings' last applied: the earlier one is forgotten, so that going
    back to it later is a change again."""
    key = SETTINGS_KEY + fingerprint
    await conn.execute(
        job_runs.delete()
        .where(job_runs.c.key.startswith(SETTINGS_KEY, autoescape=True))
        .where(job_runs.c.key != key)
    )
    await claim_job(conn, key, owner=SYSTEM_ACTOR, now=now)  # (a replica's claim first: kept)


async def look_now(conn: AsyncConnection, statement: Any, now: datetime, *, limit: int) -> int:
    """One batch of one of `look_now_statements`: up to `limit` rows set to `now`."""
    aware("now", now)
    return (await conn.execute(statement, {"now": now, "limit": limit})).rowcount


@functools.cache
def look_now_statements() -> tuple[tuple[str, Any], ...]:
    """("incidents" or "tasks", a batch statement) for each range of live rows to set to "look
    now": pending incidents and open tasks with a due time (running or not: a closed incident's
    tasks are read again from where they were when it is reopened) whose time is later than
    `now` or NULL. Rows already due are left: the next pass computes them from the new settings
    anyway. Each range is one slice of the minute pass's own index, in its order, and a row set
    to `now` leaves it: read through that index, a batch reads only the rows it sets."""
    time_type = incidents.c.created_at.type
    now = bindparam("now", type_=time_type)
    statements: list[tuple[str, Any]] = []
    escalation_at = incidents.c.next_escalation_at
    for later in (escalation_at > now, escalation_at.is_(None)):
        batch = (
            select(incidents.c.id)
            .where(incidents.c.status == "pending")
            .where(later)
            .order_by(escalation_at, incidents.c.id)  # the index's order: the planner takes it
        )
        statements.append(("incidents", _set_now(incidents, batch)))
    attention_at = tasks.c.next_attention_at
    live: ColumnElement[bool]
    for live in (true(), false()):
        for later in (attention_at > now, attention_at.is_(None)):
            batch = (
                select(tasks.c.id)
                .where(tasks.c.status == "open")
                .where(tasks.c.live == live)
                .where(later)
                .where(tasks.c.due_at.is_not(None))
                .order_by(attention_at, tasks.c.id)
            )
            statements.append(("tasks", _set_now(tasks, batch)))
    return tuple(statements)


def _set_now(table: Any, batch: Select[Any]) -> Any:
    column = "next_escalation_at" if table is incidents else "next_attention_at"
    return (
        table.update()
        .where(table.c.id.in_(batch.limit(bindparam("limit"))))
        .values({column: bindparam("now", type_=table.c.created_at.type)})
    )
