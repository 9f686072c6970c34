"""Aggregate reads for the weekly summary: counts and the first few rows, never whole tables,
so that the summary of a million incidents stays well under a second."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select

from bot.domain.summary import Counted, DeadlineLine, IncidentLine, Week, WeekData
from bot.store.repository import Store
from bot.store.tables import incidents, tasks

OPEN_STATUSES = ("pending", "decided")
UPCOMING_DAYS = 7


def _line(row: Any) -> IncidentLine:
    return IncidentLine(
        id=row.id,
        partner=row.partner,
        status=row.status,
        recommendation=row.recommendation,
        decided_action=row.decided_action,
        created_at=row.created_at,
        decided_at=row.decided_at,
    )


_LINE_COLUMNS = (
    incidents.c.id,
    incidents.c.partner,
    incidents.c.status,
    incidents.c.recommendation,
    incidents.c.decided_action,
    incidents.c.created_at,
    incidents.c.decided_at,
)


async def week_data(store: Store, week: Week, *, now: datetime, limit: int = 10) -> WeekData:
    start, end = week.start, week.end
    async with store._read() as conn:

        async def counted_incidents(condition: Any, order: Any) -> Counted[IncidentLine]:
            total = (
                await conn.execute(select(func.count()).select_from(incidents).where(condition))
            ).scalar_one()
            rows = (
                await conn.execute(
                    select(*_LINE_COLUMNS).where(condition).order_by(order).limit(limit)
                )
            ).all()
            return Counted(tuple(_line(row) for row in rows), int(total))

        opened = await counted_incidents(
            and_(incidents.c.created_at >= start, incidents.c.created_at < end),
            incidents.c.created_at,
        )
        decided_in_week = and_(
            incidents.c.decided_at >= start,
            incidents.c.decided_at < end,
            incidents.c.status == "decided",
        )
        decided = await counted_incidents(decided_in_week, incidents.c.decided_at)
        by_action_rows = (
            await conn.execute(
                select(incidents.c.decided_action, func.count())
                .where(decided_in_week)
                .group_by(incidents.c.decided_action)
            )
        ).all()
        pending = await counted_incidents(incidents.c.status == "pending", incidents.c.created_at)
        open_incidents = await counted_incidents(
            incidents.c.status.in_(OPEN_STATUSES), incidents.c.created_at.desc()
        )

        async def counted_deadlines(condition: Any) -> Counted[DeadlineLine]:
            base = and_(
                tasks.c.status == "open",
                tasks.c.kind == "deadline",
                tasks.c.due_at.is_not(None),
                condition,
            )
            total = (
                await conn.execute(select(func.count()).select_from(tasks).where(base))
            ).scalar_one()
            rows = (
                await conn.execute(
                    select(
                        tasks.c.incident_id,
                        incidents.c.partner,
                        tasks.c.ref,
                        tasks.c.title,
                        tasks.c.due_at,
                        tasks.c.owner_id,
                    )
                    .join(incidents, incidents.c.id == tasks.c.incident_id)
                    .where(base)
                    .order_by(tasks.c.due_at)
                    .limit(limit)
                )
            ).all()
            lines = tuple(
                DeadlineLine(
                    row.incident_id, row.partner, row.ref, dict(row.title), row.due_at, row.owner_id
                )
                for row in rows
            )
            return Counted(lines, int(total))

        overdue = await counted_deadlines(tasks.c.due_at < now)
        upcoming = await counted_deadlines(
            and_(tasks.c.due_at >= now, tasks.c.due_at < now + timedelta(days=UPCOMING_DAYS))
        )
        # Repeat partners among this week's: how many incidents each has had in all.
        this_week = select(incidents.c.partner_key).where(
            incidents.c.created_at >= start, incidents.c.created_at < end
        )
        partner_rows = (
            await conn.execute(
                select(func.max(incidents.c.partner), func.count())
                .where(incidents.c.partner_key.in_(this_week.distinct().scalar_subquery()))
                .group_by(incidents.c.partner_key)
                .having(func.count() > 1)
                .order_by(func.count().desc(), func.max(incidents.c.partner))
            )
        ).all()
    partners = [(str(row[0]), int(row[1])) for row in partner_rows]
    return WeekData(
        week=week,
        as_of=now,
        opened=opened,
        decided=decided,
        decisions_by_action={str(action): int(count) for action, count in by_action_rows if action},
        pending=pending,
        overdue=overdue,
        upcoming=upcoming,
        repeat_partners=Counted(tuple(partners[:limit]), len(partners)),
        open_incidents=open_incidents,
    )
