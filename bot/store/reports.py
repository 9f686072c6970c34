"""Aggregate reads for the weekly summary: counts and the first few rows, never whole tables,
so that the summary of a million incidents stays well under a second."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, case, func, literal_column, select, true, union_all

from bot.domain.summary import Counted, DeadlineLine, IncidentLine, Week, WeekData
from bot.store.common import on_the_hour
from bot.store.engine import Database
from bot.store.tables import (
    HOUR_COUNT_CATEGORIES,
    deadline_counts,
    decision_hour_counts,
    incident_hour_counts,
    incident_status_counts,
    incidents,
    partners,
    tasks,
)

from .aio import AsyncConnection

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
    regulator_refs: Collection[str] = (),
) -> WeekData:
    """The week's figures. A deadline counts as overdue after its task's own `overdue_after`
    (the APPI preliminary report's target is 3 days, overdue after 5); `regulator_refs`: the
    deadlines owed to a regulator or affected persons.

    Nine statements, each a few kept rows or a short index range: every statement costs
    ~1 ms of driver and SQLAlchemy work on top of its own, so lists and counts that read the
    same kind of rows are read together (UNION ALL)."""
    start, end = week.start, week.end
    created_in_week = and_(incidents.c.created_at >= start, incidents.c.created_at < end)
    decided_in_week = and_(
        incidents.c.decided_at >= start,
        incidents.c.decided_at < end,
        # `status || ''`: without statistics SQLite would read every decided incident ever
        # through the status index instead of the week's range of decided_at (1M: ~1 s).
        incidents.c.status.concat("") == "decided",
    )
    async with store.read() as conn:
        status_counts, opened_total, by_action_rows = await _counts(
            conn, week, created_in_week, decided_in_week
        )
        lists = await _first_incidents(
            conn,
            limit,
            (created_in_week, incidents.c.created_at),
            (decided_in_week, incidents.c.decided_at),
            (incidents.c.status == "pending", incidents.c.created_at),
            (incidents.c.status == "pending", incidents.c.created_at.desc()),
            (incidents.c.status == "decided", incidents.c.created_at.desc()),
        )
        opened_items, decided_items, pending_items, pending_newest, decided_newest = lists
        decided_total = sum(count for _action, _followed, count in by_action_rows)
        median = await _median_decision(conn, decided_in_week, decided_total)
        overdue, upcoming, overdue_by_ref = await _deadlines(conn, now, limit)
        # Repeat partners among this week's: how many incidents each has had in all, from the
        # kept `partners` rows of the week's partner keys (read from the created_at index).
        this_week = select(incidents.c.partner_key).where(created_in_week)
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
            by_action[action] = by_action.get(action, 0) + count
    # Open = pending or decided (OPEN_STATUSES). The newest few of each status come from its
    # (status, created_at) index and are merged here: one ORDER BY over both statuses sorted
    # every open incident first (1M: ~400,000).
    pending_total = status_counts.get("pending", 0)
    newest = sorted(
        (*pending_newest, *decided_newest),
        key=lambda line: (line.created_at, line.id),
        reverse=True,
    )
    return WeekData(
        week=week,
        as_of=now,
        opened=Counted(opened_items, opened_total),
        decided=Counted(decided_items, decided_total),
        decisions_by_action=by_action,
        pending=Counted(pending_items, pending_total),
        overdue=overdue,
        upcoming=upcoming,
        repeat_partners=Counted(tuple(repeat[:limit]), len(repeat)),
        open_incidents=Counted(
            tuple(newest[:limit]), pending_total + status_counts.get("decided", 0)
        ),
        median_decision=median,
        followed_recommendation=sum(
            count for action, followed, count in by_action_rows if action and followed
        ),
        regulator_overdue=sum(overdue_by_ref.get(ref, 0) for ref in set(regulator_refs)),
    )


async def _counts(
    conn: AsyncConnection, week: Week, created_in_week: Any, decided_in_week: Any
) -> tuple[dict[str, int], int, list[tuple[str, bool, int]]]:
    """Incidents per status (kept), the week's incidents, and its decisions per (action or '',
    as recommended). From kept rows in one statement when the week starts and ends on whole
    UTC hours (migration 0008's hour counts); otherwise the week's two counts from the
    incidents' created_at and decided_at index ranges."""
    if on_the_hour(week.start, week.end):
        hours = incident_hour_counts.c.hour
        decisions = decision_hour_counts.c.hour
        opened_sum = sum(
            (incident_hour_counts.c[name] for name in HOUR_COUNT_CATEGORIES[1:]),
            incident_hour_counts.c[HOUR_COUNT_CATEGORIES[0]],
        )
        statement = union_all(
            select(
                literal_column("0").label("part"),
                incident_status_counts.c.status.label("key"),
                literal_column("0").label("followed"),
                incident_status_counts.c.incidents.label("n"),
            ),
            select(
                literal_column("1"),
                literal_column("''"),
                literal_column("0"),
                func.coalesce(func.sum(opened_sum), 0),
            ).where(hours >= week.start, hours < week.end),
            select(
                literal_column("2"),
                decision_hour_counts.c.decided_action,
                decision_hour_counts.c.followed,
                func.sum(decision_hour_counts.c.n),
            )
            .where(decisions >= week.start, decisions < week.end)
            .group_by(decision_hour_counts.c.decided_action, decision_hour_counts.c.followed),
        )
        status_counts: dict[str, int] = {}
        opened = 0
        by_action: list[tuple[str, bool, int]] = []
        for part, key, followed, count in await conn.execute(statement):
            if int(part) == 0:
                status_counts[str(key)] = int(count)
            elif int(part) == 1:
                opened = int(count)
            elif count:
                by_action.append((str(key), bool(followed), int(count)))
        return status_counts, opened, by_action
    status_counts = {
        str(status): int(count)
        for status, count in await conn.execute(
            select(incident_status_counts.c.status, incident_status_counts.c.incidents)
        )
    }
    opened = (
        await conn.execute(select(func.count()).select_from(incidents).where(created_in_week))
    ).scalar_one()
    followed = case((incidents.c.decided_action == incidents.c.recommendation, 1), else_=0)
    rows = await conn.execute(
        select(incidents.c.decided_action, followed, func.count())
        .where(decided_in_week)
        .group_by(incidents.c.decided_action, followed)
    )
    by_action = [(str(action or ""), bool(was), int(count)) for action, was, count in rows]
    return status_counts, int(opened), by_action


async def _first_incidents(
    conn: AsyncConnection, limit: int, *lists: tuple[Any, Any]
) -> list[tuple[IncidentLine, ...]]:
    """The first `limit` incidents of each (condition, order), in one statement (UNION ALL of
    one index range each), each list in its own order."""
    parts = []
    for index, (condition, order) in enumerate(lists):
        part = select(*_LINE_COLUMNS).where(condition).order_by(order).limit(limit).subquery()
        parts.append(select(literal_column(str(index)).label("part"), *part.c))
    found: list[list[IncidentLine]] = [[] for _ in lists]
    # UNION ALL hands each part's rows over in the part's own order.
    for row in await conn.execute(union_all(*parts)):
        found[int(row.part)].append(_line(row))
    return [tuple(lines) for lines in found]


async def _deadlines(
    conn: AsyncConnection, now: datetime, limit: int
) -> tuple[Counted[DeadlineLine], Counted[DeadlineLine], dict[str, int]]:
    """Overdue and upcoming deadlines, and the overdue ones per ref.

    Open deadlines that still run (`tasks.live`: not of a closed incident, not taken over by a
    later round), overdue past their own `overdue_after`, upcoming when not overdue yet and due
    within UPCOMING_DAYS. Counted without a join, mostly from the kept `deadline_counts` (per
    ref, UTC day of due_at, UTC day of overdue_after): whole days that are overdue before
    today, or not overdue today and due before the last upcoming day, are summed there; the
    rest from two short ranges of the (status, kind, live, due_at, overdue_after, ref) index:
    overdue after today's midnight (overdue or upcoming depending on `now`), and due on the
    last upcoming day before its end."""
    today = now.astimezone(UTC).date()
    midnight = datetime.combine(today, time(), UTC)
    tomorrow = midnight + timedelta(days=1)
    horizon = now + timedelta(days=UPCOMING_DAYS)
    last_day = horizon.astimezone(UTC).date()
    last_midnight = datetime.combine(last_day, time(), UTC)
    overdue_by_ref: dict[str, int] = {}
    upcoming_total = 0
    first_due_day: date | None = None
    kept = deadline_counts.c
    for ref, overdue_count, upcoming_count, first_due in await conn.execute(
        select(
            kept.ref,
            func.sum(case((kept.overdue_day < today, kept.open), else_=0)),
            func.sum(
                case(
                    (and_(kept.overdue_day > today, kept.due_day < last_day), kept.open),
                    else_=0,
                )
            ),
            func.min(case((and_(kept.overdue_day >= today, kept.open > 0), kept.due_day))),
        ).group_by(kept.ref)
    ):
        if overdue_count:
            overdue_by_ref[str(ref)] = int(overdue_count)
        upcoming_total += int(upcoming_count or 0)
        if first_due is not None:
            day = first_due if isinstance(first_due, date) else date.fromisoformat(first_due)
            first_due_day = day if first_due_day is None else min(first_due_day, day)
    running = and_(
        tasks.c.status == "open",
        tasks.c.kind == "deadline",
        tasks.c.live == true(),
    )
    is_overdue = and_(tasks.c.due_at < now, tasks.c.overdue_after < now)
    is_upcoming = and_(tasks.c.due_at < horizon, tasks.c.overdue_after >= now)
    if first_due_day is None:  # no deadline is overdue today or later
        (overdue_only,) = await _first_deadlines(conn, running, limit, (is_overdue,))
        return (
            Counted(overdue_only, sum(overdue_by_ref.values())),
            Counted((), 0),
            overdue_by_ref,
        )
    # Nothing due before this is overdue today or later (overdue_after >= due_at).
    window = datetime.combine(first_due_day, time(), UTC)
    today_part = (
        select(
            tasks.c.ref.label("ref"),
            case((tasks.c.overdue_after < now, 1), else_=0).label("overdue"),
        )
        .where(
            running,
            tasks.c.due_at >= window,
            tasks.c.due_at < tomorrow,
            tasks.c.overdue_after >= midnight,
            tasks.c.overdue_after < tomorrow,
        )
        .subquery()
    )
    last_day_part = (
        select(tasks.c.ref.label("ref"), literal_column("0").label("overdue"))
        .where(
            running,
            tasks.c.due_at >= last_midnight,  # after tomorrow: apart from the first range
            tasks.c.due_at < horizon,
            tasks.c.overdue_after >= now,
        )
        .subquery()
    )
    edges = union_all(
        select(today_part.c.ref, today_part.c.overdue, func.count()).group_by(
            today_part.c.ref, today_part.c.overdue
        ),
        select(last_day_part.c.ref, last_day_part.c.overdue, func.count()).group_by(
            last_day_part.c.ref, last_day_part.c.overdue
        ),
    )
    for ref, overdue, count in await conn.execute(edges):
        if int(overdue):
            overdue_by_ref[str(ref)] = overdue_by_ref.get(str(ref), 0) + int(count)
        else:
            upcoming_total += int(count)
    overdue_lines, upcoming_lines = await _first_deadlines(
        conn, running, limit, (is_overdue, and_(tasks.c.due_at >= window, is_upcoming))
    )
    return (
        Counted(overdue_lines, sum(overdue_by_ref.values())),
        Counted(upcoming_lines, upcoming_total),
        overdue_by_ref,
    )


async def _first_deadlines(
    conn: AsyncConnection, running: Any, limit: int, conditions: Sequence[Any]
) -> list[tuple[DeadlineLine, ...]]:
    """The first `limit` running deadlines of each condition, in one statement, each with its
    incident's partner (looked up for those rows only)."""
    partner = (
        select(incidents.c.partner)
        .where(incidents.c.id == tasks.c.incident_id)
        .scalar_subquery()
        .label("partner")
    )
    parts = []
    for index, condition in enumerate(conditions):
        part = (
            select(
                tasks.c.incident_id,
                tasks.c.ref,
                tasks.c.title,
                tasks.c.due_at,
                tasks.c.owner_id,
                partner,
            )
            .where(running, condition)
            # The index's own order (then the rowid on SQLite): walked, not sorted, and not
            # through the (status, due_at) index past every open task.
            .order_by(tasks.c.due_at, tasks.c.overdue_after, tasks.c.ref, tasks.c.id)
            .limit(limit)
            .subquery()
        )
        parts.append(select(literal_column(str(index)).label("part"), *part.c))
    statement = union_all(*parts) if len(parts) > 1 else parts[0]
    found: list[list[DeadlineLine]] = [[] for _ in conditions]
    for row in await conn.execute(statement):
        found[int(row.part)].append(
            DeadlineLine(
                row.incident_id,
                row.partner or "",
                row.ref,
                dict(row.title),
                row.due_at,
                row.owner_id,
            )
        )
    return [tuple(lines) for lines in found]


async def _median_decision(
    conn: AsyncConnection, decided_in_week: Any, count: int
) -> timedelta | None:
    """The median of (decided_at - created_at) over the `count` decisions `decided_in_week`
    selects: the middle one or two by duration (OFFSET), not every row."""
    if count == 0:
        return None
    if conn.dialect.name == "postgresql":
        seconds: Any = func.extract("epoch", incidents.c.decided_at - incidents.c.created_at)
        # Sorted by the interval (compared as 64-bit microseconds), not by the numeric its epoch
        # is: the same order (epoch is linear in the interval), a cheaper sort (1M: 8,798 rows).
        order: Any = incidents.c.decided_at - incidents.c.created_at
    else:  # stored as UTC text; julianday gives days
        seconds = (
            func.julianday(incidents.c.decided_at) - func.julianday(incidents.c.created_at)
        ) * 86400
        order = seconds
    middle = (
        (
            await conn.execute(
                select(seconds)
                .where(decided_in_week)
                .order_by(order)
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
