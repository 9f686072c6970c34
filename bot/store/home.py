"""What a person's App Home tab shows, read in a few indexed queries on one connection.

The tab is published on every open, so it must stay cheap at a million incidents: three or four
reads on one connection — capped lists newest first by `ix_incidents_status_created_at` (the
approver's pending ones with their vote, by the approvals' unique (incident, round, approver)
index), the person's tasks by `ix_tasks_owner_id_status` (migration 0003) tested on their kept
`live` flag (migration 0006), and the counts with their `home_viewers` row in one statement of
scalar subqueries. An approver's totals come from the counts migration 0007 keeps
(bot/store/listing.py); a person's task counts stop at TASK_COUNT_CAP.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import ColumnElement, and_, func, literal, select, true, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from .common import aware, chunks, insert
from .tables import (
    INCIDENT_STATUSES,
    approvals,
    home_viewers,
    incident_viewers,
    incidents,
    reporter_status_counts,
    tasks,
)

OPEN_STATUSES = ("pending", "decided")
# A person's open and overdue tasks are counted up to this many; more is TASK_COUNT_CAP + 1,
# which the tab shows as "500+".
TASK_COUNT_CAP: Final = 500


@dataclass(frozen=True, slots=True)
class HomeIncident:
    """One open incident as the tab lists it (`my_vote`: this person's vote in its round)."""

    id: str
    partner: str
    status: str
    reporter_id: str
    recommendation: str
    decided_action: str | None
    round: int
    created_at: datetime
    channel_id: str | None
    message_ts: str | None
    my_vote: str | None = None


@dataclass(frozen=True, slots=True)
class HomeTask:
    id: int
    incident_id: str
    partner: str
    kind: str
    ref: str
    title: dict[str, str]
    due_at: datetime | None


@dataclass(frozen=True, slots=True)
class HomeCounts:
    """Counts over what the person may see (everything, for an approver)."""

    awaiting_me: int  # pending incidents this person may decide (not their own)
    pending: int
    decided_open: int
    my_open_tasks: int  # at most TASK_COUNT_CAP + 1 (more than the cap)
    my_overdue_tasks: int  # likewise
    opened_this_week: int
    decided_this_week: int


@dataclass(frozen=True, slots=True)
class HomeViewer:
    """When the person last opened their tab, and whether they were an approver then."""

    opened_at: datetime
    approver: bool


@dataclass(frozen=True, slots=True)
class HomeSnapshot:
    awaiting: list[HomeIncident]  # for approvers: pending, not their own, newest first
    incidents: list[HomeIncident]  # open incidents they may see, newest first
    tasks: list[HomeTask]  # their open tasks, earliest due first
    counts: HomeCounts
    viewer: HomeViewer | None = None


def _my_open_tasks(user_id: str) -> ColumnElement[bool]:
    """Open and still running: on an incident not closed, and of its round or a deadline no
    later round took over — what `tasks.live` keeps (bot/store/tasks.py `live_condition`, set by
    every write that changes it), read from the task's own row instead of looking up its
    incident and its later rounds for each task."""
    return and_(tasks.c.owner_id == user_id, tasks.c.status == "open", tasks.c.live == true())


def _incident_columns() -> list[ColumnElement[object]]:
    return [
        incidents.c.id,
        incidents.c.partner,
        incidents.c.status,
        incidents.c.reporter_id,
        incidents.c.recommendation,
        incidents.c.decided_action,
        incidents.c.round,
        incidents.c.created_at,
        incidents.c.channel_id,
        incidents.c.message_ts,
    ]


async def _incident_list(
    conn: AsyncConnection,
    user_id: str,
    *,
    statuses: tuple[str, ...],
    condition: ColumnElement[bool] | None,
    with_vote: bool,
    limit: int,
    viewer: bool = False,
) -> list[HomeIncident]:
    """Newest first; `viewer`: only those `user_id` may see (their `incident_viewers` rows)."""
    columns = _incident_columns()
    source = incidents
    status, created, key = incidents.c.status, incidents.c.created_at, incidents.c.id
    if viewer:
        seen_by = incident_viewers
        source = seen_by.join(incidents, incidents.c.id == seen_by.c.incident_id)  # type: ignore[assignment]
        status, created, key = seen_by.c.status, seen_by.c.created_at, seen_by.c.incident_id
        condition = seen_by.c.user_id == user_id
    if with_vote:
        mine = and_(
            approvals.c.incident_id == incidents.c.id,
            approvals.c.round == incidents.c.round,
            approvals.c.approver_id == user_id,
        )
        source = incidents.outerjoin(approvals, mine)  # type: ignore[assignment]
        columns.append(approvals.c.action.label("my_vote"))
    newest = (created.desc(), key.desc())
    # Per status, newest first by (status, created_at) — or the person's (user_id, status,
    # created_at, incident_id) — capped, then merged: one statement that never sorts every
    # open incident (an IN over the statuses would).
    parts = []
    for one in statuses:
        query = select(*columns).select_from(source).where(status == one)
        if condition is not None:
            query = query.where(condition)
        parts.append(select(query.order_by(*newest).limit(limit).subquery()))
    merged = union_all(*parts).subquery()
    query = select(merged).order_by(merged.c.created_at.desc(), merged.c.id.desc()).limit(limit)
    rows = (await conn.execute(query)).mappings().all()
    return [HomeIncident(**dict(row)) for row in rows]


async def home_snapshot(
    conn: AsyncConnection,
    user_id: str,
    *,
    everyone: bool,
    week_start: datetime,
    now: datetime,
    limit: int,
) -> HomeSnapshot:
    """What `user_id` sees: `everyone` for approvers; lists capped at `limit` (+ counts)."""
    aware("week_start", week_start)
    aware("now", now)
    awaiting: list[HomeIncident] = []
    if everyone:
        awaiting = await _incident_list(
            conn,
            user_id,
            statuses=("pending",),
            condition=incidents.c.reporter_id != user_id,
            with_vote=True,
            limit=limit,
        )
    shown = await _incident_list(
        conn,
        user_id,
        statuses=OPEN_STATUSES,
        condition=None,
        with_vote=False,
        limit=limit,
        viewer=not everyone,
    )
    task_rows = (
        (
            await conn.execute(
                select(
                    tasks.c.id,
                    tasks.c.incident_id,
                    incidents.c.partner,
                    tasks.c.kind,
                    tasks.c.ref,
                    tasks.c.title,
                    tasks.c.due_at,
                )
                .select_from(tasks.join(incidents, incidents.c.id == tasks.c.incident_id))
                .where(_my_open_tasks(user_id))
                # In the order of ix_tasks_owner_id_status: walked, not sorted (every task
                # leakbot plans has a due time).
                .order_by(tasks.c.due_at, tasks.c.id)
                .limit(limit)
            )
        )
        .mappings()
        .all()
    )
    my_tasks = [HomeTask(**dict(row)) for row in task_rows]

    mine = incident_viewers

    def count(*conditions: ColumnElement[bool]) -> ColumnElement[int]:
        """Over every incident (approvers: the week's range of a covering index)."""
        return select(func.count()).select_from(incidents).where(*conditions).scalar_subquery()

    def viewer_count(*conditions: ColumnElement[bool]) -> ColumnElement[int]:
        """From the person's `incident_viewers` rows alone (their index)."""
        query = select(func.count()).select_from(mine).where(mine.c.user_id == user_id)
        return query.where(*conditions).scalar_subquery()

    def kept(status: str, reporter_id: str | None = None) -> ColumnElement[int]:
        """From the kept counts (migration 0007): a sum over a row per reporter."""
        counts = reporter_status_counts
        query = select(func.coalesce(func.sum(counts.c.n), 0)).where(counts.c.status == status)
        if reporter_id is not None:
            query = query.where(counts.c.reporter_id == reporter_id)
        return query.scalar_subquery()

    def task_count(*conditions: ColumnElement[bool]) -> ColumnElement[int]:
        # Counted up to the cap (then shown as "500+"): the person's tasks by their index,
        # each tested on its own row (`tasks.live`), never joined to the incidents.
        capped = select(tasks.c.id).where(_my_open_tasks(user_id), *conditions)
        capped = capped.limit(TASK_COUNT_CAP + 1)
        return select(func.count()).select_from(capped.subquery()).scalar_subquery()

    if everyone:
        # Approvers see every incident: the totals are kept, not counted.
        awaiting_me = kept("pending") - kept("pending", user_id)
        pending, decided_open = kept("pending"), kept("decided")
        opened = count(incidents.c.created_at >= week_start)
        decided = count(
            incidents.c.decided_at >= week_start, incidents.c.decided_action.is_not(None)
        )
    else:
        awaiting_me = literal(0)
        pending = viewer_count(mine.c.status == "pending")
        decided_open = viewer_count(mine.c.status == "decided")
        opened = viewer_count(mine.c.status.in_(INCIDENT_STATUSES), mine.c.created_at >= week_start)
        # Kept beside the row (migration 0008: NULL unless decided with an action).
        decided = viewer_count(mine.c.decided_at >= week_start)
    seen = home_viewers.c.user_id == user_id
    counts = (
        (
            await conn.execute(
                select(
                    awaiting_me.label("awaiting_me"),
                    pending.label("pending"),
                    decided_open.label("decided_open"),
                    task_count().label("my_open_tasks"),
                    task_count(tasks.c.due_at < now).label("my_overdue_tasks"),
                    opened.label("opened_this_week"),
                    decided.label("decided_this_week"),
                    select(home_viewers.c.opened_at).where(seen).scalar_subquery().label("seen"),
                    select(home_viewers.c.approver).where(seen).scalar_subquery().label("as"),
                )
            )
        )
        .mappings()
        .one()
    )
    opened_at, was_approver = counts["seen"], counts["as"]
    return HomeSnapshot(
        awaiting=awaiting,
        incidents=shown,
        tasks=my_tasks,
        counts=HomeCounts(
            **{key: int(value) for key, value in counts.items() if key not in ("seen", "as")}
        ),
        viewer=None if opened_at is None else HomeViewer(opened_at, bool(was_approver)),
    )


async def note_home_opened(
    conn: AsyncConnection, user_id: str, *, approver: bool, now: datetime
) -> None:
    """Remember that `user_id` opened their tab at `now` (an upsert)."""
    aware("now", now)
    stmt = insert(conn, home_viewers).values(user_id=user_id, opened_at=now, approver=approver)
    stmt = stmt.on_conflict_do_update(
        index_elements=[home_viewers.c.user_id], set_={"opened_at": now, "approver": approver}
    )
    await conn.execute(stmt)


async def home_viewers_among(
    conn: AsyncConnection, people: Iterable[str], *, approvers: bool, since: datetime
) -> set[str]:
    """Which of `people` (and, with `approvers`, which approvers) opened their tab since then."""
    aware("since", since)
    found: set[str] = set()
    recent = home_viewers.c.opened_at >= since
    if approvers:
        query = select(home_viewers.c.user_id).where(recent, home_viewers.c.approver.is_(True))
        found.update(str(user) for user in (await conn.execute(query)).scalars())
    for chunk in chunks(people):
        query = select(home_viewers.c.user_id).where(recent, home_viewers.c.user_id.in_(chunk))
        found.update(str(user) for user in (await conn.execute(query)).scalars())
    return found
