"""Processed Slack deliveries (dedupe of retries) and job claims (once across replicas)."""

from __future__ import annotations

from datetime import datetime

from .aio import AsyncConnection
from .common import aware, insert
from .tables import job_runs, processed_events


async def remember_event(conn: AsyncConnection, key: str, *, now: datetime) -> bool:
    """True the first time `key` is seen, False afterwards."""
    aware("now", now)
    stmt = (
        insert(conn, processed_events)
        .values(key=key, at=now)
        .on_conflict_do_nothing(index_elements=[processed_events.c.key])
        .returning(processed_events.c.key)
    )
    return (await conn.execute(stmt)).first() is not None


async def forget_events_before(conn: AsyncConnection, cutoff: datetime) -> int:
    """Delete processed events older than `cutoff`; returns how many."""
    aware("cutoff", cutoff)
    result = await conn.execute(
        processed_events.delete()
        .where(processed_events.c.at < cutoff)
        .returning(processed_events.c.key)
    )
    return len(result.all())


async def claim_job(conn: AsyncConnection, key: str, *, owner: str, now: datetime) -> bool:
    """True only for the one caller (of any replica, ever) that claims `key` first."""
    aware("now", now)
    stmt = (
        insert(conn, job_runs)
        .values(key=key, claimed_by=owner, claimed_at=now)
        .on_conflict_do_nothing(index_elements=[job_runs.c.key])
        .returning(job_runs.c.key)
    )
    return (await conn.execute(stmt)).first() is not None
