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
from functools import cache
from typing import Any, Final

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    func,
    literal,
    or_,
    select,
    true,
    union_all,
)

from .aio import AsyncConnection
from .common import aware, chunks, insert
from .tables import (
    INCIDENT_STATUSES,
    UTCDateTime,
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


# The statements' parameters, bound at each call (the statements are built once: below).
_USER = bindparam("user_id", type_=String())
_LIMIT = bindparam("limit", type_=Integer())
_CAP = bindparam("cap", type_=Integer())
_WEEK_START = bindparam("week_start", type_=UTCDateTime())
_NOW = bindparam("now", type_=UTCDateTime())


def _my_open_tasks() -> ColumnElement[bool]:
    """Open and still running: on an incident not closed, and of its round or a deadline no
    later round took over — what `tasks.live` keeps (bot/store/tasks.py `live_condition`, set by
    every write that changes it), read from the task's own row instead of looking up its
    incident and its later rounds for each task."""
    return and_(tasks.c.owner_id == _USER, tasks.c.status == "open", tasks.c.live == true())


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


def _incident_list(
    *,
    statuses: tuple[str, ...],
    condition: ColumnElement[bool] | None,
    with_vote: bool,
    viewer: bool = False,
) -> Select[Any]:
    """Newest first; `viewer`: only those the user may see (their `incident_viewers` rows)."""
    columns = _incident_columns()
    source = incidents
    status, created, key = incidents.c.status, incidents.c.created_at, incidents.c.id
    if viewer:
        seen_by = incident_viewers
        source = seen_by.join(incidents, incidents.c.id == seen_by.c.incident_id)  # type: ignore[assignment]
        status, created, key = seen_by.c.status, seen_by.c.created_at, seen_by.c.incident_id
        condition = seen_by.c.user_id == _USER
    if with_vote:
        mine = and_(
            approvals.c.incident_id == incidents.c.id,
            approvals.c.round == incidents.c.round,
            approvals.c.approver_id == _USER,
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
        parts.append(select(query.order_by(*newest).limit(_LIMIT).subquery()))
    merged = union_all(*parts).subquery()
    return select(merged).order_by(merged.c.created_at.desc(), merged.c.id.desc()).limit(_LIMIT)


@dataclass(frozen=True, slots=True)
class _Queries:
    awaiting: Select[Any] | None
    shown: Select[Any]
    tasks: Select[Any]
    counts: Select[Any]


@cache
def _queries(everyone: bool) -> _Queries:
    """The tab's statements for an approver (`everyone`) or another person, built once: building
    them (subqueries, their column proxies, cache keys) took ~3-4 ms of CPU per tab, more than
    their execution on PostgreSQL. The person, the week, now and the caps are parameters."""
    awaiting = None
    if everyone:
        awaiting = _incident_list(
            statuses=("pending",), condition=incidents.c.reporter_id != _USER, with_vote=True
        )
    shown = _incident_list(
        statuses=OPEN_STATUSES, condition=None, with_vote=False, viewer=not everyone
    )
    task_list = (
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
        .where(_my_open_tasks())
        # In the order of ix_tasks_owner_id_status: walked, not sorted (every task leakbot
        # plans has a due time).
        .order_by(tasks.c.due_at, tasks.c.id)
        .limit(_LIMIT)
    )

    mine = incident_viewers

    def count(*conditions: ColumnElement[bool]) -> ColumnElement[int]:
        """Over every incident (approvers: the week's range of a covering index)."""
        return select(func.count()).select_from(incidents).where(*conditions).scalar_subquery()

    def viewer_count(*conditions: ColumnElement[bool]) -> ColumnElement[int]:
        """From the person's `incident_viewers` rows alone (their index)."""
        query = select(func.count()).select_from(mine).where(mine.c.user_id == _USER)
        return query.where(*conditions).scalar_subquery()

    def kept(status: str, *, mine: bool = False) -> ColumnElement[int]:
        """From the kept counts (migration 0007): a sum over a row per reporter."""
        counts = reporter_status_counts
        query = select(func.coalesce(func.sum(counts.c.n), 0)).where(counts.c.status == status)
        if mine:
            query = query.where(counts.c.reporter_id == _USER)
        return query.scalar_subquery()

    def task_count(*conditions: ColumnElement[bool]) -> ColumnElement[int]:
        # Counted up to the cap (then shown as "500+"): the person's tasks by their index,
        # each tested on its own row (`tasks.live`), never joined to the incidents. The ORDER
        # BY (its index's order) keeps SQLite on (owner_id, status, due_at): without it, it
        # took the minute pass's (status, live, next_attention_at) and read every open task,
        # ~155 ms at 1,000,000 incidents (bench/README.md, "follow-up at 1,000,000 incidents").
        capped = (
            select(tasks.c.id)
            .where(_my_open_tasks(), *conditions)
            .order_by(tasks.c.due_at)
            .limit(_CAP)
        )
        return select(func.count()).select_from(capped.subquery()).scalar_subquery()

    if everyone:
        # Approvers see every incident: the totals are kept, not counted.
        awaiting_me = kept("pending") - kept("pending", mine=True)
        pending, decided_open = kept("pending"), kept("decided")
        opened = count(incidents.c.created_at >= _WEEK_START)
        decided = count(
            incidents.c.decided_at >= _WEEK_START, incidents.c.decided_action.is_not(None)
        )
    else:
        awaiting_me = literal(0)
        pending = viewer_count(mine.c.status == "pending")
        decided_open = viewer_count(mine.c.status == "decided")
        opened = viewer_count(
            mine.c.status.in_(INCIDENT_STATUSES), mine.c.created_at >= _WEEK_START
        )
        # Kept beside the row (migration 0009: NULL unless decided with an action).
        decided = viewer_count(mine.c.decided_at >= _WEEK_START)
    seen = home_viewers.c.user_id == _USER
    counts = select(
        awaiting_me.label("awaiting_me"),
        pending.label("pending"),
        decided_open.label("decided_open"),
        task_count().label("my_open_tasks"),
        task_count(tasks.c.due_at < _NOW).label("my_overdue_tasks"),
        opened.label("opened_this_week"),
        decided.label("decided_this_week"),
        select(home_viewers.c.opened_at).where(seen).scalar_subquery().label("seen"),
        select(home_viewers.c.approver).where(seen).scalar_subquery().label("as"),
    )
    return _Queries(awaiting, shown, task_list, counts)


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
    queries = _queries(everyone)
    params = {
        "user_id": user_id,
        "limit": limit,
        "cap": TASK_COUNT_CAP + 1,
        "week_start": week_start,
        "now": now,
    }

    async def incident_list(query: Select[Any]) -> list[HomeIncident]:
        rows = (await conn.execute(query, params)).mappings().all()
        return [HomeIncident(**dict(row)) for row in rows]

    awaiting = [] if queries.awaiting is None else await incident_list(queries.awaiting)
    shown = await incident_list(queries.shown)
    task_rows = (await conn.execute(queries.tasks, params)).mappings().all()
    my_tasks = [HomeTask(**dict(row)) for row in task_rows]
    counts = (await conn.execute(queries.counts, params)).mappings().one()
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
    # The approvers with the first chunk of people (a decision's few): one statement, not two.
    groups = chunks(people)
    if approvers and not groups:
        groups = [[]]
    for n, chunk in enumerate(groups):
        query = _VIEWERS_OR_APPROVERS if approvers and n == 0 else _VIEWERS_AMONG
        rows = await conn.execute(query, {"since": since, "people": chunk})
        found.update(str(user) for user in rows.scalars())
    return found


_RECENT_VIEWER = home_viewers.c.opened_at >= bindparam("since", type_=home_viewers.c.opened_at.type)
_AMONG = home_viewers.c.user_id.in_(bindparam("people", expanding=True))
# Built once (a decision runs it, with its App Home refreshes).
_VIEWERS_AMONG = select(home_viewers.c.user_id).where(_RECENT_VIEWER, _AMONG)
_VIEWERS_OR_APPROVERS = select(home_viewers.c.user_id).where(
    _RECENT_VIEWER, or_(home_viewers.c.approver.is_(True), _AMONG)
)
