"""`/leak list`'s reads, and the kept counts behind every total it and App Home show (issue 14).

Totals are sums over `reporter_status_counts` / `partner_status_counts` (a few rows per
reporter or partner spelling, kept by triggers in the same transaction as the incident:
migration 0007), never a count over the incidents. Pages are newest first, each status from
its own index — (status, created_at), or (reporter_id, status, created_at, id) for a reporter —
capped at `offset + limit` and merged, so nothing sorts every matching incident:

- a partner filter whose spellings (matched in `partner_status_counts`) hold at most
  `FEW_PARTNER_INCIDENTS` incidents reads their ids from (partner, status, created_at, id)
  alone and sorts at most that many;
- one that matches more walks the newest incidents and tests each: with at least that many
  matches, a page is found after about `(offset + limit) * all / FEW_PARTNER_INCIDENTS` rows;
- a reporter's partner filter reads whichever is fewer, the partner's matches or their own
  incidents (each tested); its count is over the same rows, the one count here that grows with
  what one person reported.

Connection-level functions; the `Store` facade runs them via `Database.read()`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from sqlalchemy import ColumnElement, Table, and_, func, or_, select, union_all
from sqlalchemy.engine import RowMapping

from bot.domain.partners import normalize_partner

from .aio import AsyncConnection
from .incidents import incident_record
from .records import IncidentRecord
from .tables import INCIDENT_STATUSES, incidents, partner_status_counts, reporter_status_counts

# Up to this many matching incidents, a partner filter reads them by partner and sorts them.
FEW_PARTNER_INCIDENTS: Final = 10_000


async def incident_total(
    conn: AsyncConnection, statuses: Sequence[str], *, reporter_id: str | None = None
) -> int:
    """How many incidents have one of `statuses` (only `reporter_id`'s, when given)."""
    counts = reporter_status_counts
    query = select(func.coalesce(func.sum(counts.c.n), 0)).where(
        counts.c.status.in_(list(statuses))
    )
    if reporter_id is not None:
        query = query.where(counts.c.reporter_id == reporter_id)
    return int((await conn.execute(query)).scalar_one())


def partner_matches(table: Table, partner_text: str) -> ColumnElement[bool]:
    """`table`'s partner (and partner_key) contain the text: its normalised key, or as typed
    (case-insensitive)."""
    key = normalize_partner(partner_text)
    return or_(
        table.c.partner_key.contains(key, autoescape=True),
        func.lower(table.c.partner).contains(partner_text.lower(), autoescape=True),
    )


def _newest(
    statuses: Sequence[str], conditions: Sequence[ColumnElement[bool]], limit: int, offset: int
) -> Any:
    """Ids of the page: per status newest first (an index walk capped at offset + limit),
    merged."""
    newest = (incidents.c.created_at.desc(), incidents.c.id.desc())
    parts = [
        select(
            select(incidents.c.id, incidents.c.created_at)
            .where(incidents.c.status == status, *conditions)
            .order_by(*newest)
            .limit(offset + limit)
            .subquery()
        )
        for status in statuses
    ]
    merged = (union_all(*parts) if len(parts) > 1 else parts[0]).subquery()
    return (
        select(merged.c.id)
        .order_by(merged.c.created_at.desc(), merged.c.id.desc())
        .limit(limit)
        .offset(offset)
    )


async def list_page(
    conn: AsyncConnection,
    *,
    statuses: Sequence[str] | None,
    partner_text: str | None,
    reporter_id: str | None,
    limit: int,
    offset: int,
) -> tuple[list[RowMapping], int]:
    """Incident rows newest first (one page) and how many match in all."""
    wanted = tuple(statuses) if statuses is not None else INCIDENT_STATUSES
    conditions: list[ColumnElement[bool]] = []
    if reporter_id is not None:
        conditions.append(incidents.c.reporter_id == reporter_id)
    if partner_text:
        # The matching spellings and how many incidents each has: a walk of one row per
        # spelling and status (as many as there are partners, not incidents), the text tested
        # once per spelling.
        counts = partner_status_counts
        spellings: dict[str, int] = {}
        for partner, n in await conn.execute(
            select(counts.c.partner, func.sum(counts.c.n))
            .where(counts.c.status.in_(list(wanted)))
            .group_by(counts.c.partner, counts.c.partner_key)
            .having(and_(func.sum(counts.c.n) > 0, partner_matches(counts, partner_text)))
        ):
            spellings[str(partner)] = spellings.get(str(partner), 0) + int(n)
        matched = sum(spellings.values())
        if not matched:
            return [], 0
        few = matched <= FEW_PARTNER_INCIDENTS
        if few and reporter_id is not None:
            # By partner only when that is fewer rows than the reporter's own (their index,
            # each row tested): the planners take the partner index whenever offered it.
            few = matched < await incident_total(conn, wanted, reporter_id=reporter_id)
        conditions.append(
            incidents.c.partner.in_(list(spellings))
            if few
            else partner_matches(incidents, partner_text)
        )
        if reporter_id is None:
            total = int(matched)
        else:
            query = select(func.count()).select_from(incidents)
            query = query.where(incidents.c.status.in_(list(wanted)), *conditions)
            total = int((await conn.execute(query)).scalar_one())
        if few and reporter_id is None:
            # A few thousand at most: read by partner and sorted, not walked.
            page = (
                select(incidents.c.id)
                .where(incidents.c.status.in_(list(wanted)), *conditions)
                .order_by(incidents.c.created_at.desc(), incidents.c.id.desc())
                .limit(limit)
                .offset(offset)
            )
        else:
            page = _newest(wanted, conditions, limit, offset)
    else:
        total = await incident_total(conn, wanted, reporter_id=reporter_id)
        page = _newest(wanted, conditions, limit, offset)
    if total == 0 or offset >= total:
        return [], total
    ids = [str(incident_id) for incident_id in (await conn.execute(page)).scalars()]
    if not ids:
        return [], total
    rows = (await conn.execute(select(incidents).where(incidents.c.id.in_(ids)))).mappings()
    by_id = {row["id"]: row for row in rows}
    return [by_id[incident_id] for incident_id in ids if incident_id in by_id], total


async def list_incidents_page(
    conn: AsyncConnection,
    *,
    statuses: Sequence[str] | None,
    partner_text: str | None,
    reporter_id: str | None,
    limit: int,
    offset: int,
) -> tuple[list[IncidentRecord], int]:
    """One page of incidents, newest first, and how many match in all."""
    rows, total = await list_page(
        conn,
        statuses=statuses,
        partner_text=partner_text,
        reporter_id=reporter_id,
        limit=limit,
        offset=offset,
    )
    return [incident_record(row) for row in rows], total
