"""Reads for `leakbot export`: every incident with its approvals and deadlines, page by page.

Keyset pagination over the incidents' (year, seq) — the unique index behind the incident ids,
so each page is one index range however deep into the table it is, and memory stays constant.
Each page's approvals and deadline tasks come in one query each (`IN` the page's ids).
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import ColumnElement, Text, null, select, tuple_, type_coerce
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


# Times and JSON come raw (SQLite: text; PostgreSQL: what asyncpg returns) and are converted by
# `_utc` / `_json` below: SQLAlchemy's per-value type processing was ~3/4 of an export's time.
def _raw(column: ColumnElement[Any]) -> ColumnElement[Any]:
    return type_coerce(column, Text).label(column.key)


def _utc(value: Any) -> datetime | None:
    """A stored time as an aware UTC datetime (SQLite stores naive UTC text)."""
    if value is None:
        return None
    moment: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


_INCIDENT_COLUMNS = (
    incidents.c.id,
    incidents.c.year,
    incidents.c.seq,
    incidents.c.status,
    incidents.c.partner,
    incidents.c.reporter_id,
    incidents.c.team_id,
    incidents.c.locale,
    _raw(incidents.c.created_at),
    _raw(incidents.c.updated_at),
    incidents.c.round,
    incidents.c.recommendation,
    incidents.c.decided_action,
    _raw(incidents.c.decided_by),
    _raw(incidents.c.decided_at),
    incidents.c.decision_reason,
    _outcome,
    _raw(incidents.c.answers),
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
            _raw(approvals.c.created_at),
        )
        .where(approvals.c.incident_id.in_(ids))
        .order_by(
            approvals.c.incident_id, approvals.c.round, approvals.c.created_at, approvals.c.id
        )
    )
    for incident_id, round_, approver_id, action, at in approval_rows:
        votes.setdefault(incident_id, []).append(
            ExportedApproval(round_, approver_id, action, _utc(at))  # type: ignore[arg-type]
        )

    # A deadline a later round re-created is exported once: the latest round's task.
    deadlines: dict[str, dict[str, ExportedDeadline]] = {}
    task_rows = await conn.execute(
        select(
            tasks.c.incident_id,
            tasks.c.ref,
            tasks.c.round,
            _raw(tasks.c.due_at),
            tasks.c.status,
            _raw(tasks.c.done_at),
            tasks.c.owner_id,
        ).where(tasks.c.incident_id.in_(ids), tasks.c.kind == "deadline")
    )
    for incident_id, ref, round_, due_at, status, done_at, owner_id in task_rows:
        by_ref = deadlines.setdefault(incident_id, {})
        known = by_ref.get(ref)
        if known is None or known.round < round_:
            by_ref[ref] = ExportedDeadline(
                ref, round_, _utc(due_at), status, _utc(done_at), owner_id
            )

    page = [
        ExportedIncident(
            id=row.id,
            status=row.status,
            partner=row.partner,
            reporter_id=row.reporter_id,
            team_id=row.team_id,
            locale=row.locale,
            created_at=_utc(row.created_at),  # type: ignore[arg-type]
            updated_at=_utc(row.updated_at),  # type: ignore[arg-type]
            round=row.round,
            recommendation=row.recommendation,
            decided_action=row.decided_action,
            decided_by=tuple(_json(row.decided_by) or ()),
            decided_at=_utc(row.decided_at),
            decision_reason=row.decision_reason,
            outcome=row.outcome,
            answers=_json(row.answers),
            approvals=tuple(votes.get(row.id, ())),
            deadlines=tuple(sorted(deadlines.get(row.id, {}).values(), key=lambda d: d.ref)),
        )
        for row in rows
    ]
    last = rows[-1]
    return page, ((last.year, last.seq) if len(rows) == limit else None)


async def iter_export(
    store: Store, *, since: datetime | None = None, page_size: int = EXPORT_PAGE_SIZE
) -> AsyncGenerator[list[ExportedIncident], None]:
    """Every incident (created at or after `since`), in id order, a page at a time.

    One read connection for the whole export: on SQLite one snapshot; on PostgreSQL each page
    is its own statement (an incident changing meanwhile is exported as it was at its page)."""
    async with store.read() as conn:
        key: tuple[int, int] | None = None
        while True:
            page, key = await export_page(conn, after=key, since=since, limit=page_size)
            if page:
                yield page
            if key is None:
                return
