"""Reads for `leakbot export`: every incident with its approvals and deadlines, page by page.

Keyset pagination over the incidents' (year, seq) — the unique index behind the incident ids,
so each page is one index range however deep into the table it is, and memory stays constant.
Each page's approvals and deadline tasks come in one query each (`IN` the page's ids).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, Final

from sqlalchemy import ColumnElement, null, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain.export import ExportedApproval, ExportedDeadline, ExportedIncident
from bot.store.repository import Store
from bot.store.tables import approvals, incidents, tasks

__all__ = ["EXPORT_PAGE_SIZE", "export_page", "iter_export"]

EXPORT_PAGE_SIZE: Final[int] = 2000

# `outcome` (how a closed incident ended) exists once the close-with-outcome migration is in;
# until then the column is exported empty.
_outcome: ColumnElement[Any] = (
    incidents.c["outcome"] if "outcome" in incidents.c else null().label("outcome")
)
_INCIDENT_COLUMNS = (
    incidents.c.id,
    incidents.c.year,
    incidents.c.seq,
    incidents.c.status,
    incidents.c.partner,
    incidents.c.reporter_id,
    incidents.c.team_id,
    incidents.c.locale,
    incidents.c.created_at,
    incidents.c.updated_at,
    incidents.c.round,
    incidents.c.recommendation,
    incidents.c.decided_action,
    incidents.c.decided_by,
    incidents.c.decided_at,
    incidents.c.decision_reason,
    _outcome,
    incidents.c.answers,
)


async def export_page(
    conn: AsyncConnection,
    *,
    after: tuple[int, int] | None,
    since: datetime | None,
    limit: int = EXPORT_PAGE_SIZE,
) -> tuple[list[ExportedIncident], tuple[int, int] | None]:
    """The next `limit` incidents after the (year, seq) key `after` (None: from the first),
    created at or after `since`; and the key to continue from (None when this was the last)."""
    query = select(*_INCIDENT_COLUMNS)
    if after is not None:
        query = query.where(tuple_(incidents.c.year, incidents.c.seq) > tuple_(*after))
    if since is not None:
        query = query.where(incidents.c.created_at >= since)
    query = query.order_by(incidents.c.year, incidents.c.seq).limit(limit)
    rows = (await conn.execute(query)).all()
    if not rows:
        return [], None
    ids = [row.id for row in rows]

    votes: dict[str, list[ExportedApproval]] = {}
    approval_rows = await conn.execute(
        select(
            approvals.c.incident_id,
            approvals.c.round,
            approvals.c.approver_id,
            approvals.c.action,
            approvals.c.created_at,
        )
        .where(approvals.c.incident_id.in_(ids))
        .order_by(
            approvals.c.incident_id, approvals.c.round, approvals.c.created_at, approvals.c.id
        )
    )
    for incident_id, round_, approver_id, action, at in approval_rows:
        votes.setdefault(incident_id, []).append(ExportedApproval(round_, approver_id, action, at))

    # A deadline a later round re-created is exported once: the latest round's task.
    deadlines: dict[str, dict[str, ExportedDeadline]] = {}
    task_rows = await conn.execute(
        select(
            tasks.c.incident_id,
            tasks.c.ref,
            tasks.c.round,
            tasks.c.due_at,
            tasks.c.status,
            tasks.c.done_at,
            tasks.c.owner_id,
        )
        .where(tasks.c.incident_id.in_(ids), tasks.c.kind == "deadline")
        .order_by(tasks.c.incident_id, tasks.c.round, tasks.c.id)
    )
    for incident_id, ref, round_, due_at, status, done_at, owner_id in task_rows:
        deadlines.setdefault(incident_id, {})[ref] = ExportedDeadline(
            ref, round_, due_at, status, done_at, owner_id
        )

    page = [
        ExportedIncident(
            id=row.id,
            status=row.status,
            partner=row.partner,
            reporter_id=row.reporter_id,
            team_id=row.team_id,
            locale=row.locale,
            created_at=row.created_at,
            updated_at=row.updated_at,
            round=row.round,
            recommendation=row.recommendation,
            decided_action=row.decided_action,
            decided_by=tuple(row.decided_by or ()),
            decided_at=row.decided_at,
            decision_reason=row.decision_reason,
            outcome=row.outcome,
            answers=dict(row.answers),
            approvals=tuple(votes.get(row.id, ())),
            deadlines=tuple(sorted(deadlines.get(row.id, {}).values(), key=lambda d: d.ref)),
        )
        for row in rows
    ]
    last = rows[-1]
    return page, ((last.year, last.seq) if len(rows) == limit else None)


async def iter_export(
    store: Store, *, since: datetime | None = None, page_size: int = EXPORT_PAGE_SIZE
) -> AsyncIterator[list[ExportedIncident]]:
    """Every incident (created at or after `since`), in id order, a page at a time.

    One read connection for the whole export: on SQLite one snapshot; on PostgreSQL each page
    is its own statement (an incident changing meanwhile is exported as it was at its page)."""
    async with store._read() as conn:
        key: tuple[int, int] | None = None
        while True:
            page, key = await export_page(conn, after=key, since=since, limit=page_size)
            if page:
                yield page
            if key is None:
                return
