"""The outbox for operators: list what waits or died, put items back in the queue.

Connection-level queries (`async def f(conn, ...)`), and thin functions running them on a Store.
A dead item is one Slack refused for good (or that waited on such an item); requeueing it gives
it a fresh set of attempts, due now. Items are requeued oldest first, so a message another one
depends on (e.g. the recommendation before its thread replies) is delivered first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from sqlalchemy import or_, select
from sqlalchemy.engine import RowMapping

from .aio import AsyncConnection
from .records import OutboxItem
from .tables import outbox

if TYPE_CHECKING:
    from . import Store

__all__ = [
    "RequeueResult",
    "find_by_dedupe_key",
    "get_item",
    "list_items",
    "release_dedupe_key",
    "requeue",
    "requeue_dead",
]

_NAMES = tuple(f.name for f in fields(OutboxItem))

RequeueOutcome = Literal["requeued", "not_found", "already_sent", "in_flight", "superseded"]
# A dead item whose dedupe key a newer message took (free_dedupe_key): requeueing it would
# send the same thing twice.
_SUPERSEDED = "#dead-"


@dataclass(frozen=True)
class RequeueResult:
    item_id: int
    outcome: RequeueOutcome


def _item(row: RowMapping) -> OutboxItem:
    return OutboxItem(**{name: row[name] for name in _NAMES})


# -- connection level -----------------------------------------------------------------------------


async def select_items(
    conn: AsyncConnection, *, statuses: Sequence[str], limit: int
) -> list[OutboxItem]:
    query = (
        select(outbox).where(outbox.c.status.in_(list(statuses))).order_by(outbox.c.id).limit(limit)
    )
    return [_item(row) for row in (await conn.execute(query)).mappings()]


async def select_item(conn: AsyncConnection, item_id: int) -> OutboxItem | None:
    row = (await conn.execute(select(outbox).where(outbox.c.id == item_id))).mappings().first()
    return None if row is None else _item(row)


async def select_by_dedupe_key(conn: AsyncConnection, key: str) -> OutboxItem | None:
    query = select(outbox).where(outbox.c.dedupe_key == key)
    row = (await conn.execute(query)).mappings().first()
    return None if row is None else _item(row)


async def requeue_item(conn: AsyncConnection, item_id: int, *, now: datetime) -> RequeueOutcome:
    """Dead or waiting → pending, attempts 0, due now. A sent item or one being delivered right
    now (its lease runs) is left alone."""
    item = await select_item(conn, item_id)
    if item is None:
        return "not_found"
    if item.status == "sent":
        return "already_sent"
    if item.dedupe_key is not None and _SUPERSEDED in item.dedupe_key:
        return "superseded"
    result = await conn.execute(
        outbox.update()
        .where(outbox.c.id == item_id)
        .where(outbox.c.status != "sent")
        .where(or_(outbox.c.lease_until.is_(None), outbox.c.lease_until <= now))
        .values(
            status="pending",
            attempts=0,
            next_attempt_at=now,
            lease_until=None,
            leased_by=None,
        )
        .returning(outbox.c.id)
    )
    return "requeued" if result.first() is not None else "in_flight"


async def requeue_all_dead(conn: AsyncConnection, *, now: datetime) -> list[int]:
    query = (
        select(outbox.c.id)
        .where(outbox.c.status == "dead")
        .where(or_(outbox.c.dedupe_key.is_(None), ~outbox.c.dedupe_key.contains(_SUPERSEDED)))
        .order_by(outbox.c.id)
    )
    ids = [int(item_id) for item_id in (await conn.execute(query)).scalars()]
    if ids:
        await conn.execute(
            outbox.update()
            .where(outbox.c.id.in_(ids))
            .values(
                status="pending", attempts=0, next_attempt_at=now, lease_until=None, leased_by=None
            )
        )
    return ids


async def free_dedupe_key(conn: AsyncConnection, item_id: int) -> bool:
    """Let a new message take a dead item's dedupe key (the dead one keeps it, suffixed, as
    history): e.g. a weekly summary that died can be posted again."""
    result = await conn.execute(
        outbox.update()
        .where(outbox.c.id == item_id)
        .where(outbox.c.status == "dead")
        .where(outbox.c.dedupe_key.is_not(None))
        .values(dedupe_key=outbox.c.dedupe_key + f"{_SUPERSEDED}{item_id}")
        .returning(outbox.c.id)
    )
    return result.first() is not None


# -- on a Store -----------------------------------------------------------------------------------
# (Store._read/_write: the Store's transaction helpers.)


async def list_items(
    store: Store, *, dead_only: bool = False, limit: int = 100
) -> list[OutboxItem]:
    """Items not delivered (waiting and dead), or only the dead ones; oldest first."""
    statuses = ("dead",) if dead_only else ("pending", "dead")
    async with store.read() as conn:
        return await select_items(conn, statuses=statuses, limit=limit)


async def get_item(store: Store, item_id: int) -> OutboxItem | None:
    async with store.read() as conn:
        return await select_item(conn, item_id)


async def find_by_dedupe_key(store: Store, key: str) -> OutboxItem | None:
    async with store.read() as conn:
        return await select_by_dedupe_key(conn, key)


async def requeue(store: Store, item_ids: Sequence[int], *, now: datetime) -> list[RequeueResult]:
    """Each item in one transaction, in id order."""
    results = []
    for item_id in sorted(set(item_ids)):

        async def work(conn: AsyncConnection, item_id: int = item_id) -> RequeueOutcome:
            return await requeue_item(conn, item_id, now=now)

        results.append(RequeueResult(item_id, await store.write(work)))
    return results


async def requeue_dead(store: Store, *, now: datetime) -> list[int]:
    """Every dead item back in the queue (one transaction), except those a newer message
    replaced; their ids, oldest first."""

    async def work(conn: AsyncConnection) -> list[int]:
        return await requeue_all_dead(conn, now=now)

    return await store.write(work)


async def release_dedupe_key(store: Store, item_id: int) -> bool:
    async def work(conn: AsyncConnection) -> bool:
        return await free_dedupe_key(conn, item_id)

    return await store.write(work)
