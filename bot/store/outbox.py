"""The transactional outbox: Slack calls queued in the same transaction as the change they tell
about, leased to a worker (`FOR UPDATE SKIP LOCKED` on PostgreSQL), in order per incident."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, Select, bindparam, func, literal, or_, select
from sqlalchemy.engine import RowMapping

from .aio import AsyncConnection
from .common import aware, chunks, insert, is_postgres, set_params, set_values, to_record
from .records import IncidentRecord, OutboxItem, OutboxMessage
from .tables import outbox

OutboxSpec = Sequence[OutboxMessage] | Callable[[IncidentRecord], Sequence[OutboxMessage]]
"""Messages to enqueue with a change: a list, or a function of the resulting incident record
(called inside the transaction — the way to put the new incident id into a payload)."""


def render(spec: OutboxSpec, record: IncidentRecord) -> Sequence[OutboxMessage]:
    return spec(record) if callable(spec) else spec


def _item(row: RowMapping) -> OutboxItem:
    return to_record(OutboxItem, row)


async def enqueue(
    conn: AsyncConnection,
    messages: Sequence[OutboxMessage],
    *,
    now: datetime,
    incident_id: str | None = None,
) -> list[int]:
    """Queue the messages (`incident_id`: for those without one); returns the new item ids (a
    duplicate dedupe_key is skipped)."""
    aware("now", now)
    if not messages:
        return []
    rows = []
    for message in messages:
        due = now
        if message.not_before is not None:
            due = max(now, aware("not_before", message.not_before))
        rows.append(
            {
                "incident_id": message.incident_id or incident_id,
                "kind": message.kind,
                "method": message.method,
                "payload": dict(message.payload),
                "dedupe_key": message.dedupe_key,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": due,
                "created_at": now,
            }
        )
    # One INSERT for all (a decision queues three or four): ids follow the rows' order, which
    # is the order an incident's messages are sent in. A row whose dedupe_key exists is skipped.
    stmt = _enqueue_statement(is_postgres(conn))
    return sorted(int(new_id) for new_id in (await conn.execute(stmt, rows)).scalars())


@functools.cache
def _enqueue_statement(postgres: bool) -> Any:
    """The outbox INSERT, built once per dialect (see common.insert); the rows are parameters."""
    return (
        insert(postgres, outbox)
        .on_conflict_do_nothing(index_elements=[outbox.c.dedupe_key])
        .returning(outbox.c.id)
    )


async def claim_outbox(
    conn: AsyncConnection,
    *,
    now: datetime,
    worker_id: str,
    limit: int,
    lease_seconds: float,
    incident_id: str | None = None,
) -> list[OutboxItem]:
    """Lease due items to this worker (attempts + 1), oldest first (`incident_id`: only that
    incident's).

    Per incident, items go out in order: an item is never returned while an older pending
    item of the same incident exists (leased, backing off or due), so at most one item per
    incident is in flight. Items without an incident are independent.
    """
    aware("now", now)
    params: dict[str, Any] = {
        "now": now,
        "limit": limit,
        "until": now + timedelta(seconds=lease_seconds),
        "worker": worker_id,
    }
    if incident_id is not None:
        params["of_incident"] = incident_id
    claim = _claim(postgres=is_postgres(conn), one_incident=incident_id is not None)
    rows = (await conn.execute(claim, params)).mappings().all()
    return sorted((_item(row) for row in rows), key=lambda item: item.id)


@functools.cache
def _claim(*, postgres: bool, one_incident: bool) -> Any:
    """The claim in one statement: the lease UPDATE of the claimable ids (the queue pattern
    `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED LIMIT n) RETURNING`), not a SELECT
    of the ids then an UPDATE of them: a statement less per claim that finds items."""
    ids = _claimable(postgres=postgres, one_incident=one_incident).scalar_subquery()
    return (
        outbox.update()
        .where(outbox.c.id.in_(ids))
        .values(
            lease_until=bindparam("until", type_=outbox.c.lease_until.type),
            leased_by=bindparam("worker"),
            attempts=outbox.c.attempts + 1,
        )
        .returning(*outbox.c)
    )


@functools.cache
def _claimable(*, postgres: bool, one_incident: bool) -> Select[tuple[int]]:
    """The claimable ids, oldest first: parameters `now`, `limit` and, for `one_incident`,
    `of_incident`."""
    older = outbox.alias("older")
    blocked = (
        select(literal(1))
        .select_from(older)
        .where(older.c.incident_id == outbox.c.incident_id)
        .where(older.c.status == "pending")
        .where(older.c.id < outbox.c.id)
        .exists()
    )
    now = bindparam("now", type_=outbox.c.next_attempt_at.type)
    query = (
        select(outbox.c.id)
        .where(outbox.c.status == "pending")
        .where(outbox.c.next_attempt_at <= now)
        .where(or_(outbox.c.lease_until.is_(None), outbox.c.lease_until <= now))
        .where(or_(outbox.c.incident_id.is_(None), ~blocked))
        .order_by(outbox.c.id)
        .limit(bindparam("limit", type_=Integer))
    )
    if one_incident:
        # Not "incident_id": in the UPDATE that name is the SET clause's own.
        query = query.where(outbox.c.incident_id == bindparam("of_incident"))
    if postgres:
        query = query.with_for_update(skip_locked=True, of=outbox)
    return query


async def finish_item(conn: AsyncConnection, item_id: int, worker_id: str, **values: Any) -> bool:
    """End this worker's lease with these column values. False: the lease was lost."""
    params = {"item_id": item_id, "worker_id": worker_id, **set_params(values)}
    result = await conn.execute(_finish_statement(tuple(values)), params)
    return result.first() is not None


@functools.cache
def _finish_statement(columns: tuple[str, ...]) -> Any:
    """finish_item's UPDATE, built once per set of columns (mark_sent, mark_retry, …)."""
    return (
        outbox.update()
        .where(outbox.c.id == bindparam("item_id"))
        .where(outbox.c.status == "pending")
        .where(outbox.c.leased_by == bindparam("worker_id"))
        .values(lease_until=None, leased_by=None, **set_values(outbox, columns))
        .returning(outbox.c.id)
    )


async def mark_sent(
    conn: AsyncConnection,
    item_id: int,
    *,
    result: Mapping[str, Any] | None,
    now: datetime,
    worker_id: str,
) -> bool:
    aware("now", now)
    return await finish_item(
        conn,
        item_id,
        worker_id,
        status="sent",
        sent_at=now,
        result=None if result is None else dict(result),
        last_error=None,
    )


async def mark_retry(
    conn: AsyncConnection, item_id: int, *, error: str, next_attempt_at: datetime, worker_id: str
) -> bool:
    aware("next_attempt_at", next_attempt_at)
    return await finish_item(
        conn, item_id, worker_id, next_attempt_at=next_attempt_at, last_error=error
    )


async def mark_dead(
    conn: AsyncConnection, item_id: int, *, error: str, now: datetime, worker_id: str
) -> bool:
    aware("now", now)
    return await finish_item(conn, item_id, worker_id, status="dead", last_error=error)


async def outbox_depth(conn: AsyncConnection) -> int:
    """Pending items (due or not)."""
    query = select(func.count()).select_from(outbox).where(outbox.c.status == "pending")
    return int((await conn.execute(query)).scalar_one())


async def outbox_items(
    conn: AsyncConnection, incident_id: str | None = None, *, status: str | None = None
) -> list[OutboxItem]:
    """All items (of one incident / with one status), oldest first."""
    query = select(outbox).order_by(outbox.c.id)
    if incident_id is not None:
        query = query.where(outbox.c.incident_id == incident_id)
    if status is not None:
        query = query.where(outbox.c.status == status)
    rows = (await conn.execute(query)).mappings().all()
    return [_item(row) for row in rows]


async def queued_dedupe_keys(conn: AsyncConnection, keys: Iterable[str]) -> set[str]:
    """Which of these dedupe keys an outbox item already has (any status)."""
    found: set[str] = set()
    for chunk in chunks(keys):
        rows = await conn.execute(select(outbox.c.dedupe_key).where(outbox.c.dedupe_key.in_(chunk)))
        found.update(str(key) for (key,) in rows)
    return found


_LAST_SENT = (
    select(outbox.c.result)
    .where(outbox.c.incident_id == bindparam("incident_id"))
    .where(outbox.c.kind == bindparam("kind"))
    .where(outbox.c.status == "sent")
    .order_by(outbox.c.sent_at.desc(), outbox.c.id.desc())
    .limit(1)
)


async def last_sent_result(
    conn: AsyncConnection, incident_id: str, kind: str
) -> dict[str, Any] | None:
    """The `result` of the latest sent item of this kind for this incident, or None."""
    params = {"incident_id": incident_id, "kind": kind}
    value = (await conn.execute(_LAST_SENT, params)).scalar_one_or_none()
    return None if value is None else dict(value)
