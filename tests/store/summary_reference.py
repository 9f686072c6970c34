"""The weekly summary's figures computed the straightforward way (bot/store/reports.py as of
e8f8bf5, before the kept hour counts and the merged statements): what the tests compare the
store's `week_data` with, figure by figure and line by line."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, case, func, select, true
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain.summary import Counted, DeadlineLine, IncidentLine, Week, WeekData
from bot.store.common import chunks
from bot.store.engine import Database
from bot.store.reports import _LINE_COLUMNS, UPCOMING_DAYS, _line
from bot.store.tables import (
    deadline_counts,
    incident_status_counts,
    incidents,
    partners,
    tasks,
)


async def reference_week_data(
    store: Database,
    week: Week,
    *,
    now: datetime,
    limit: int = 10,
    regulator_refs: Collection[str] = (),
) -> WeekData:
    """The week's figures. A deadline counts as overdue after its task's own `overdue_after`
    (the APPI preliminary report's target is 3 days, overdue after 5); `regulator_refs`: the
    deadlines owed to a regulator or affected persons."""
    start, end = week.start, week.end
    async with store.read() as conn:
        status_counts = {
            str(status): int(count)
            for status, count in await conn.execute(
                select(incident_status_counts.c.status, incident_status_counts.c.incidents)
            )
        }

        async def counted_incidents(
            condition: Any, order: Any, *, status: str | None = None
        ) -> Counted[IncidentLine]:
            """The first `limit` rows and how many in all: a status's count is kept
            (incident_status_counts), any other is counted from its index range."""
            if status is not None:
                total = status_counts.get(status, 0)
            else:
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
        followed = case((incidents.c.decided_action == incidents.c.recommendation, 1), else_=0)
        by_action_rows = (
            await conn.execute(
                select(incidents.c.decided_action, followed, func.count())
                .where(decided_in_week)
                .group_by(incidents.c.decided_action, followed)
            )
        ).all()
        median = await _median_decision(conn, decided_in_week, decided.total)
        pending = await counted_incidents(
            incidents.c.status == "pending", incidents.c.created_at, status="pending"
        )
        # Open = pending or decided (OPEN_STATUSES). The newest few of each status come from
        # its (status, created_at) index and are merged here: one ORDER BY over both statuses
        # sorted every open incident first (1M: ~400,000). Pending's count is the one above.
        decided_open = await counted_incidents(
            incidents.c.status == "decided", incidents.c.created_at.desc(), status="decided"
        )
        newest = sorted(
            (*await _newest(conn, incidents.c.status == "pending", limit), *decided_open.items),
            key=lambda line: (line.created_at, line.id),
            reverse=True,
        )
        open_incidents = Counted(tuple(newest[:limit]), pending.total + decided_open.total)

        # Open deadlines that still run (`tasks.live`: not of a closed incident, not taken over
        # by a later round), overdue past their own `overdue_after`. Counted without a join:
        # the days before today from the kept `deadline_counts`, the rest from the index range
        # (status, kind, live, due_at, overdue_after, ref) that starts at the first due day
        # of a deadline not overdue before today (the newest few days, not every open one).
        running = and_(
            tasks.c.status == "open",
            tasks.c.kind == "deadline",
            tasks.c.live == true(),
        )
        today = now.astimezone(UTC).date()
        midnight = datetime.combine(today, time(), UTC)
        overdue_by_ref = {
            str(ref): int(count)
            for ref, count in await conn.execute(
                select(deadline_counts.c.ref, func.sum(deadline_counts.c.open))
                .where(deadline_counts.c.overdue_day < today)
                .group_by(deadline_counts.c.ref)
            )
            if count
        }
        first_due_day = (
            await conn.execute(
                select(func.min(deadline_counts.c.due_day)).where(
                    deadline_counts.c.overdue_day >= today, deadline_counts.c.open > 0
                )
            )
        ).scalar_one_or_none()
        # Nothing due before this is overdue today or later (overdue_after >= due_at).
        window = datetime.combine(first_due_day or today, time(), UTC)

        async def count_by_ref(condition: Any) -> dict[str, int]:
            return {
                str(ref): int(count)
                for ref, count in await conn.execute(
                    select(tasks.c.ref, func.count())
                    .where(running, tasks.c.due_at >= window, condition)
                    .group_by(tasks.c.ref)
                )
            }

        async def first_deadlines(condition: Any) -> tuple[DeadlineLine, ...]:
            rows = (
                await conn.execute(
                    select(
                        tasks.c.incident_id,
                        tasks.c.ref,
                        tasks.c.title,
                        tasks.c.due_at,
                        tasks.c.owner_id,
                    )
                    .where(running, condition)
                    # The index's own order (then the rowid on SQLite): walked, not sorted, and
                    # not through the (status, due_at) index past every open task.
                    .order_by(tasks.c.due_at, tasks.c.overdue_after, tasks.c.ref, tasks.c.id)
                    .limit(limit)
                )
            ).all()
            names = await _partner_names(conn, {row.incident_id for row in rows})
            return tuple(
                DeadlineLine(
                    row.incident_id,
                    names.get(row.incident_id, ""),
                    row.ref,
                    dict(row.title),
                    row.due_at,
                    row.owner_id,
                )
                for row in rows
            )

        is_overdue = and_(tasks.c.due_at < now, tasks.c.overdue_after < now)
        if first_due_day is not None:  # overdue since midnight
            for ref, count in (
                await count_by_ref(and_(is_overdue, tasks.c.overdue_after >= midnight))
            ).items():
                overdue_by_ref[ref] = overdue_by_ref.get(ref, 0) + count
        overdue = Counted(await first_deadlines(is_overdue), sum(overdue_by_ref.values()))
        is_upcoming = and_(
            tasks.c.due_at >= window,
            tasks.c.due_at < now + timedelta(days=UPCOMING_DAYS),
            tasks.c.overdue_after >= now,
        )
        upcoming = (
            Counted(
                await first_deadlines(is_upcoming),
                sum((await count_by_ref(is_upcoming)).values()),
            )
            if first_due_day is not None
            else Counted((), 0)
        )
        # Repeat partners among this week's: how many incidents each has had in all, from the
        # kept `partners` rows of the week's partner keys (read from the created_at index).
        this_week = select(incidents.c.partner_key).where(
            incidents.c.created_at >= start, incidents.c.created_at < end
        )
        partner_rows = (
            await conn.execute(
                select(partners.c.partner, partners.c.incidents)
                .where(partners.c.partner_key.in_(this_week.distinct().scalar_subquery()))
                .where(partners.c.incidents > 1)
                .order_by(partners.c.incidents.desc(), partners.c.partner)
            )
        ).all()
    repeat = [(str(row[0]), int(row[1])) for row in partner_rows]
    by_action: dict[str, int] = {}
    for action, _followed, count in by_action_rows:
        if action:
            by_action[str(action)] = by_action.get(str(action), 0) + int(count)
    return WeekData(
        week=week,
        as_of=now,
        opened=opened,
        decided=decided,
        decisions_by_action=by_action,
        pending=pending,
        overdue=overdue,
        upcoming=upcoming,
        repeat_partners=Counted(tuple(repeat[:limit]), len(repeat)),
        open_incidents=open_incidents,
        median_decision=median,
        followed_recommendation=sum(
            int(count) for action, was_followed, count in by_action_rows if action and was_followed
        ),
        regulator_overdue=sum(overdue_by_ref.get(ref, 0) for ref in set(regulator_refs)),
    )


async def _partner_names(conn: AsyncConnection, ids: Iterable[str]) -> dict[str, str]:
    names: dict[str, str] = {}
    for chunk in chunks(ids):
        query = select(incidents.c.id, incidents.c.partner).where(incidents.c.id.in_(chunk))
        names.update((row.id, row.partner) for row in await conn.execute(query))
    return names


async def _newest(conn: AsyncConnection, condition: Any, limit: int) -> tuple[IncidentLine, ...]:
    rows = await conn.execute(
        select(*_LINE_COLUMNS).where(condition).order_by(incidents.c.created_at.desc()).limit(limit)
    )
    return tuple(_line(row) for row in rows)


async def _median_decision(
    conn: AsyncConnection, decided_in_week: Any, count: int
) -> timedelta | None:
    """The median of (decided_at - created_at) over the `count` decisions `decided_in_week`
    selects: the middle one or two by duration (OFFSET), not every row."""
    if count == 0:
        return None
    if conn.dialect.name == "postgresql":
        seconds: Any = func.extract("epoch", incidents.c.decided_at - incidents.c.created_at)
    else:  # stored as UTC text; julianday gives days
        seconds = (
            func.julianday(incidents.c.decided_at) - func.julianday(incidents.c.created_at)
        ) * 86400
    middle = (
        (
            await conn.execute(
                select(seconds)
                .where(decided_in_week)
                .order_by(seconds)
                .offset((count - 1) // 2)
                .limit(2 - count % 2)
            )
        )
        .scalars()
        .all()
    )
    if not middle:
        return None
    # Whole seconds: julianday() arithmetic on SQLite is off by microseconds.
    return timedelta(seconds=round(sum(float(value) for value in middle) / len(middle)))
