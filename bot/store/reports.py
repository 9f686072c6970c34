"""Aggregate reads for the weekly summary: counts and the first few rows, never whole tables,
so that the summary of a million incidents stays well under a second."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select

from bot.domain.summary import Counted, DeadlineLine, IncidentLine, Week, WeekData
from bot.store.engine import Database
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


async def week_data(
    store: Database,
    week: Week,
    *,
    now: datetime,
    limit: int = 10,
    overdue_grace: Mapping[str, timedelta] | None = None,
) -> WeekData:
    """The week's figures. `overdue_grace`: per deadline id, how long after its due time it
    counts as overdue (the APPI preliminary report's target is 3 days, overdue after 5)."""
    start, end = week.start, week.end
    graces = {ref: grace for ref, grace in (overdue_grace or {}).items() if grace}
    async with store.read() as conn:

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
            # `status || ''`: without statistics SQLite would read every decided incident ever
            # through the status index instead of the week's range of decided_at (1M: ~1 s).
            incidents.c.status.concat("") == "decided",
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

        # A deadline that a later round re-created counts once: the latest round's task.
        later = tasks.alias("later")
        superseded = (
            select(later.c.id)
            .where(
                later.c.incident_id == tasks.c.incident_id,
                later.c.kind == tasks.c.kind,
                later.c.ref == tasks.c.ref,
                later.c.round > tasks.c.round,
            )
            .exists()
        )
        joined = tasks.join(incidents, incidents.c.id == tasks.c.incident_id)

        async def counted_deadlines(condition: Any) -> Counted[DeadlineLine]:
            base = and_(
                tasks.c.status == "open",
                tasks.c.kind == "deadline",
                tasks.c.due_at.is_not(None),
                incidents.c.status != "closed",
                # Tasks of the incident's current round cannot be superseded: the subquery
                # runs only for the few older-round ones.
                or_(tasks.c.round >= incidents.c.round, ~superseded),
                condition,
            )
            total = (
                await conn.execute(select(func.count()).select_from(joined).where(base))
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
                    .select_from(joined)
                    .where(base)
                    .order_by(tasks.c.due_at, tasks.c.id)
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

        is_overdue = or_(
            and_(tasks.c.ref.not_in(list(graces)), tasks.c.due_at < now),
            *(
                and_(tasks.c.ref == ref, tasks.c.due_at < now - grace)
                for ref, grace in graces.items()
            ),
        )
        # The outer due_at bounds are implied by is_overdue; stated, they bound the index range.
        overdue = await counted_deadlines(and_(tasks.c.due_at < now, is_overdue))
        upcoming = await counted_deadlines(
            and_(
                tasks.c.due_at >= now - max(graces.values(), default=timedelta(0)),
                ~is_overdue,
                tasks.c.due_at < now + timedelta(days=UPCOMING_DAYS),
            )
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
