"""Closing and reopening incidents, and the filtered incident list (issue 12).

Connection-level functions; `Store` calls them inside its read/write transactions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain.partners import normalize_partner
from bot.store.tables import incident_closures, incidents, tasks


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


async def list_page(
    conn: AsyncConnection,
    *,
    statuses: Sequence[str] | None,
    partner_text: str | None,
    reporter_id: str | None,
    limit: int,
    offset: int,
) -> tuple[list[RowMapping], int]:
    """Incident rows newest first (one page) and how many match in all."""
    conditions: list[Any] = []
    if statuses is not None:
        conditions.append(incidents.c.status.in_(list(statuses)))
    if reporter_id is not None:
        conditions.append(incidents.c.reporter_id == reporter_id)
    if partner_text:
        key = normalize_partner(partner_text)
        conditions.append(
            or_(
                incidents.c.partner_key.contains(key, autoescape=True),
                func.lower(incidents.c.partner).contains(partner_text.lower(), autoescape=True),
            )
        )
    total = (
        await conn.execute(select(func.count()).select_from(incidents).where(*conditions))
    ).scalar_one()
    rows = (
        (
            await conn.execute(
                select(incidents)
                .where(*conditions)
                .order_by(incidents.c.created_at.desc(), incidents.c.id.desc())
                .limit(limit)
                .offset(offset)
            )
        )
        .mappings()
        .all()
    )
    return list(rows), int(total)
