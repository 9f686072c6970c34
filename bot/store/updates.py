"""New facts for an incident (issue 12): its answers and assessment replaced in place, and its
follow-ups kept in step with the new deadlines. Connection-level functions; `Store` calls them
inside its write transactions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store.tables import incidents, tasks


async def replace_facts(
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
                .values(answers=dict(answers), assessment=dict(assessment), updated_at=now)
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
    conn: AsyncConnection, incident_id: str, due: Mapping[int, datetime]
) -> list[dict[str, Any]]:
    """New due times for open follow-ups whose deadline moved; returns what moved."""
    moved: list[dict[str, Any]] = []
    for task_id, due_at in due.items():
        row = (
            await conn.execute(
                tasks.update()
                .where(tasks.c.incident_id == incident_id)
                .where(tasks.c.id == task_id)
                .where(tasks.c.status == "open")
                .values(due_at=due_at)
                .returning(tasks.c.id, tasks.c.ref)
            )
        ).first()
        if row is not None:
            moved.append({"task": row.id, "ref": row.ref, "due": due_at.isoformat()})
    return moved
