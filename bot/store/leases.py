"""Outbox leases kept alive while their worker is still working on them."""

from __future__ import annotations

from datetime import datetime

from .aio import AsyncConnection
from .common import aware
from .tables import outbox


async def renew_lease(
    conn: AsyncConnection, item_id: int, *, worker_id: str, until: datetime
) -> bool:
    """Extend this worker's lease on a pending item to `until`. False: the lease was lost (the
    item was finished, or another worker claimed it after the lease ran out) — don't send it."""
    aware("until", until)
    result = await conn.execute(
        outbox.update()
        .where(outbox.c.id == item_id)
        .where(outbox.c.status == "pending")
        .where(outbox.c.leased_by == worker_id)
        .values(lease_until=until)
        .returning(outbox.c.id)
    )
    return result.first() is not None
