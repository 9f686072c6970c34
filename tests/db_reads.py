"""Reads that tests check but the app never needs (so the Store does not offer them): plain
queries on the store's tables, through its public read connection."""

from __future__ import annotations

from sqlalchemy import select

from bot.store import ApprovalRecord, Store
from bot.store.tables import approvals, incidents, job_runs


async def approvals_of(
    store: Store, incident_id: str, round: int | None = None
) -> list[ApprovalRecord]:
    """The approvals of one round (default: the incident's current round), oldest first."""
    async with store.read() as conn:
        if round is None:
            query = select(incidents.c.round).where(incidents.c.id == incident_id)
            round = (await conn.execute(query)).scalar_one_or_none()
            if round is None:
                return []
        rows = (
            await conn.execute(
                select(
                    approvals.c.incident_id,
                    approvals.c.round,
                    approvals.c.approver_id,
                    approvals.c.action,
                    approvals.c.created_at,
                )
                .where(approvals.c.incident_id == incident_id, approvals.c.round == round)
                .order_by(approvals.c.created_at, approvals.c.id)
            )
        ).mappings()
        return [ApprovalRecord(**row) for row in rows]


async def job_claimed_by(store: Store, key: str) -> str | None:
    """Who claimed the job `key` (None: nobody)."""
    async with store.read() as conn:
        query = select(job_runs.c.claimed_by).where(job_runs.c.key == key)
        return (await conn.execute(query)).scalar_one_or_none()
