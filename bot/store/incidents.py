"""Incidents: creation (gapless LEAK-<year>-<seq> ids, with tasks, outbox and audit in the same
transaction), reads, and the changes that are not approvals (message ref, new round, close).

Changes lock the incident row with `FOR NO KEY UPDATE` on PostgreSQL, which does not block the
foreign-key checks of rows that refer to it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, bindparam, func, or_, select
from sqlalchemy.engine import RowMapping

from bot.domain.partners import normalize_partner

from .aio import AsyncConnection
from .audit import AuditEntry, append_audit
from .common import (
    aware,
    chunks,
    insert,
    is_postgres,
    iso,
    plain_values,
    set_params,
    set_values,
    to_record,
)
from .outbox import OutboxSpec, enqueue, render
from .records import IncidentNotFound, IncidentRecord, NewIncident, NewTask, format_incident_id
from .tables import incident_counters, incident_status_counts, incidents, partners
from .tasks import insert_tasks, refresh_kept, running_deadlines


class ExistingSubmission(Exception):
    """Aborts a create_incident transaction: the submission already exists (`record`)."""

    def __init__(self, record: IncidentRecord) -> None:
        super().__init__(record.id)
        self.record = record


def incident_record(row: RowMapping) -> IncidentRecord:
    return to_record(IncidentRecord, row, decided_by=tuple(row["decided_by"] or ()))


def decision_state(record: IncidentRecord) -> dict[str, Any]:
    """The decision fields, as the audit trail shows them before and after a change."""
    return {
        "status": record.status,
        "round": record.round,
        "decided_action": record.decided_action,
        "decided_by": list(record.decided_by),
        "decided_at": iso(record.decided_at) if record.decided_at else None,
        "decision_reason": record.decision_reason,
    }


# -- creation ------------------------------------------------------------------------------


async def create_incident(
    conn: AsyncConnection,
    new: NewIncident,
    *,
    now: datetime,
    outbox: OutboxSpec,
    tasks: Sequence[NewTask],
    actor_id: str | None,
) -> IncidentRecord:
    """The new incident with its first audit row, outbox messages and tasks. Raises
    ExistingSubmission (roll back!) when `new.submission_key` was seen before."""
    aware("now", now)
    if not 1 <= new.year <= 9999:
        raise ValueError(f"year out of range: {new.year}")
    partner_key = normalize_partner(new.partner)
    key = new.submission_key
    by_key = incidents.c.submission_key == key
    if key is not None and (existing := await incident_where(conn, by_key)):
        raise ExistingSubmission(existing)
    seq = await _next_seq(conn, new.year)
    # A double submit may have committed while we waited for the counter row's lock.
    if key is not None and (existing := await incident_where(conn, by_key)):
        raise ExistingSubmission(existing)
    incident_id = format_incident_id(new.year, seq)
    row = (
        (
            await conn.execute(
                incidents.insert()
                .values(
                    id=incident_id,
                    year=new.year,
                    seq=seq,
                    status="pending",
                    partner=new.partner,
                    partner_key=partner_key,
                    reporter_id=new.reporter_id,
                    team_id=new.team_id,
                    locale=new.locale,
                    answers=dict(new.answers),
                    assessment=dict(new.assessment),
                    recommendation=new.recommendation,
                    round=1,
                    created_at=now,
                    updated_at=now,
                    submission_key=key,
                    next_escalation_at=now,  # the follow-through's next pass schedules it
                )
                .returning(*incidents.c)
            )
        )
        .mappings()
        .one()
    )
    record = incident_record(row)
    await _count_partner(conn, partner_key, new.partner, now)
    await count_status_change(conn, None, "pending")
    await enqueue(conn, render(outbox, record), now=now, incident_id=incident_id)
    await insert_tasks(conn, incident_id, 1, tasks, now=now)
    after: dict[str, Any] = {
        "partner": new.partner,
        "answers": record.answers,
        "recommendation": new.recommendation,
    }
    if tasks:
        after["tasks"] = [{"kind": t.kind, "ref": t.ref} for t in tasks]
    await append_audit(
        conn,
        AuditEntry(incident_id, actor_id or new.reporter_id, "incident.created", now, None, after),
    )
    return record


async def _count_partner(conn: AsyncConnection, key: str, name: str, now: datetime) -> None:
    """One more incident for the partner (the `partners` table the weekly summary reads); its
    name is the greatest one given, as max(partner) over its incidents was."""
    stmt = insert(conn, partners).values(
        partner_key=key, partner=name, incidents=1, first_seen=now, last_incident_at=now
    )
    greatest = func.greatest if is_postgres(conn) else func.max
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[partners.c.partner_key],
            set_={
                "partner": greatest(partners.c.partner, stmt.excluded.partner),
                "incidents": partners.c.incidents + 1,
                "last_incident_at": greatest(
                    partners.c.last_incident_at, stmt.excluded.last_incident_at
                ),
            },
        )
    )


async def _next_seq(conn: AsyncConnection, year: int) -> int:
    # Atomic upsert: the counter row stays locked until commit, so numbers are clash-free,
    # and a rollback gives the number back (gapless).
    stmt = (
        insert(conn, incident_counters)
        .values(year=year, last_seq=1)
        .on_conflict_do_update(
            index_elements=[incident_counters.c.year],
            set_={"last_seq": incident_counters.c.last_seq + 1},
        )
        .returning(incident_counters.c.last_seq)
    )
    return int((await conn.execute(stmt)).scalar_one())


# -- row access for changes ----------------------------------------------------------------


async def incident_where(
    conn: AsyncConnection, condition: ColumnElement[bool], *, lock: bool = False
) -> IncidentRecord | None:
    query = select(incidents).where(condition)
    if lock:
        query = query.with_for_update(key_share=True)  # FOR NO KEY UPDATE on PostgreSQL
    row = (await conn.execute(query)).mappings().one_or_none()
    return None if row is None else incident_record(row)


# By id, built once (a click and its messages read the incident four times): executed with
# {"incident_id": ...}, SQLAlchemy's compiled cache does the rest.
_BY_ID = select(incidents).where(incidents.c.id == bindparam("incident_id"))
_BY_ID_LOCKED = _BY_ID.with_for_update(key_share=True)  # FOR NO KEY UPDATE on PostgreSQL


async def _by_id(conn: AsyncConnection, incident_id: str, *, lock: bool) -> IncidentRecord | None:
    query = _BY_ID_LOCKED if lock else _BY_ID
    row = (await conn.execute(query, {"incident_id": incident_id})).mappings().one_or_none()
    return None if row is None else incident_record(row)


async def lock_incident(conn: AsyncConnection, incident_id: str) -> IncidentRecord | None:
    return await _by_id(conn, incident_id, lock=True)


async def count_status_change(conn: AsyncConnection, before: str | None, after: str) -> None:
    """Keep `incident_status_counts`: one incident more with `after`, one fewer with `before`
    (rows in status order, so that concurrent changes lock them in the same order)."""
    if before == after:
        return
    changes = [{"status": after, "incidents": 1}]
    if before is not None:
        changes.append({"status": before, "incidents": -1})
    await conn.execute(
        _status_counts_upsert(is_postgres(conn)),
        sorted(changes, key=lambda row: str(row["status"])),
    )


@functools.cache
def _status_counts_upsert(postgres: bool) -> Any:
    """Built once per dialect (see common.insert); the rows are parameters."""
    stmt = insert(postgres, incident_status_counts)
    return stmt.on_conflict_do_update(
        index_elements=[incident_status_counts.c.status],
        set_={"incidents": incident_status_counts.c.incidents + stmt.excluded.incidents},
    )


@functools.cache
def _update_statement(columns: tuple[str, ...]) -> Any:
    """update_incident's UPDATE, built once per set of columns."""
    return (
        incidents.update()
        .where(incidents.c.id == bindparam("incident_id"))
        .values(**set_values(incidents, columns))
        .returning(*incidents.c)
    )


async def update_incident(
    conn: AsyncConnection, incident_id: str, *, from_status: str | None = None, **values: Any
) -> IncidentRecord:
    """Change the (locked) incident's columns; a new `status` needs the one it had
    (`from_status`), for the kept counts per status."""
    if "status" in values and from_status is None:
        raise ValueError("a status change needs from_status")
    if values.get("status") == "pending" or values.keys() & {"round", "assessment"}:
        # Its escalation times may have changed: the follow-through's next pass looks at it
        # again ("look now": a moment not after the change; migration 0011).
        values.setdefault("next_escalation_at", values.get("updated_at", incidents.c.created_at))
    if plain_values(values):
        params = {"incident_id": incident_id, **set_params(values)}
        result = await conn.execute(_update_statement(tuple(values)), params)
    else:  # an SQL expression among the values: a statement of its own
        result = await conn.execute(
            incidents.update()
            .where(incidents.c.id == incident_id)
            .values(**values)
            .returning(*incidents.c)
        )
    row = result.mappings().one()
    if "status" in values:
        # After the incident's row (and the counts its triggers keep, migration 0007), as
        # create_incident does: every writer takes the count rows in one order, so concurrent
        # intakes and decisions on PostgreSQL cannot deadlock.
        await count_status_change(conn, from_status, values["status"])
    return incident_record(row)


# -- reads ---------------------------------------------------------------------------------


async def _incidents(conn: AsyncConnection, query: Any) -> list[IncidentRecord]:
    return [incident_record(row) for row in (await conn.execute(query)).mappings().all()]


async def get_incident(conn: AsyncConnection, incident_id: str) -> IncidentRecord | None:
    return await _by_id(conn, incident_id, lock=False)


async def get_incidents(
    conn: AsyncConnection, incident_ids: Iterable[str]
) -> dict[str, IncidentRecord]:
    """Several incidents by id in a few queries (missing ids are left out)."""
    found: dict[str, IncidentRecord] = {}
    for chunk in chunks(incident_ids):
        query = select(incidents).where(incidents.c.id.in_(chunk))
        for record in await _incidents(conn, query):
            found[record.id] = record
    return found


async def get_incident_by_submission_key(
    conn: AsyncConnection, submission_key: str
) -> IncidentRecord | None:
    return await incident_where(conn, incidents.c.submission_key == submission_key)


async def list_incidents(
    conn: AsyncConnection,
    *,
    statuses: Iterable[str] | None,
    limit: int,
    reporter_id: str | None,
) -> list[IncidentRecord]:
    """Newest first."""
    query = select(incidents)
    if statuses is not None:
        wanted = [statuses] if isinstance(statuses, str) else list(statuses)
        query = query.where(incidents.c.status.in_(wanted))
    if reporter_id is not None:
        query = query.where(incidents.c.reporter_id == reporter_id)
    query = query.order_by(incidents.c.created_at.desc(), incidents.c.id.desc()).limit(limit)
    return await _incidents(conn, query)


async def decided_rounds_between(
    conn: AsyncConnection, start: datetime, end: datetime
) -> list[tuple[str, int]]:
    """(id, round) of the incidents decided now whose decision has start <= decided_at < end,
    oldest first. Two columns only: the minute pass reads this each minute (bot/followthrough.py)
    and needs whole rows only for the few whose tasks message is missing."""
    # The status is checked here, not in SQL: with `status = 'decided'` SQLite's planner takes
    # the (status, created_at) index and reads every decided incident (60 ms at 100,000).
    query = (
        select(incidents.c.id, incidents.c.round, incidents.c.status)
        .where(incidents.c.decided_at >= aware("start", start))
        .where(incidents.c.decided_at < aware("end", end))
        .order_by(incidents.c.decided_at, incidents.c.id)
    )
    return [
        (str(incident_id), int(round_))
        for incident_id, round_, status in await conn.execute(query)
        if status == "decided"
    ]


async def count_incidents_for_partner(
    conn: AsyncConnection,
    partner: str,
    *,
    exclude_id: str | None,
    created_before: datetime | None,
) -> int:
    """Incidents with this partner (a name as typed or a key: it is normalised again)."""
    query = select(func.count()).select_from(incidents)
    query = query.where(incidents.c.partner_key == normalize_partner(partner))
    if exclude_id is not None:
        query = query.where(incidents.c.id != exclude_id)
    if created_before is not None:
        query = query.where(incidents.c.created_at < aware("created_before", created_before))
    return int((await conn.execute(query)).scalar_one())


# -- changes -------------------------------------------------------------------------------


async def set_message_ref(
    conn: AsyncConnection, incident_id: str, channel_id: str, message_ts: str, *, now: datetime
) -> bool:
    """Remember where the recommendation was posted (idempotent). False: no such incident."""
    aware("now", now)
    changed = await conn.execute(
        incidents.update()
        .where(incidents.c.id == incident_id)
        .where(
            or_(
                incidents.c.channel_id.is_(None),
                incidents.c.channel_id != channel_id,
                incidents.c.message_ts.is_(None),
                incidents.c.message_ts != message_ts,
            )
        )
        .values(channel_id=channel_id, message_ts=message_ts, updated_at=now)
        .returning(incidents.c.id)
    )
    if changed.first() is not None:
        return True
    exists = await conn.execute(select(incidents.c.id).where(incidents.c.id == incident_id))
    return exists.first() is not None


async def reopen_for_new_round(
    conn: AsyncConnection,
    incident_id: str,
    *,
    assessment: Mapping[str, Any],
    recommendation: str,
    actor_id: str,
    reason: str,
    now: datetime,
    outbox: OutboxSpec,
    answers: Mapping[str, Any] | None,
    details: Mapping[str, Any] | None = None,
) -> IncidentRecord:
    """Round + 1, status 'pending', decision cleared (it stays in the audit trail), new
    assessment / recommendation (and answers, when given). `details` go into the audit row's
    `after` (what caused it). Raises IncidentNotFound."""
    aware("now", now)
    current = await lock_incident(conn, incident_id)
    if current is None:
        raise IncidentNotFound(incident_id)
    running = await running_deadlines(conn, incident_id)
    values: dict[str, Any] = {
        "status": "pending",
        "round": current.round + 1,
        "assessment": dict(assessment),
        "recommendation": recommendation,
        "decided_action": None,
        "decided_by": None,
        "decided_at": None,
        "decision_reason": None,
        "updated_at": now,
    }
    if answers is not None:
        values["answers"] = dict(answers)
    updated = await update_incident(conn, incident_id, from_status=current.status, **values)
    await refresh_kept(conn, incident_id, running)  # the earlier round's checklist stops
    await enqueue(conn, render(outbox, updated), now=now, incident_id=incident_id)
    before = decision_state(current) | {"recommendation": current.recommendation}
    after = decision_state(updated) | {"recommendation": updated.recommendation, "reason": reason}
    if answers is not None:
        before["answers"] = current.answers
        after["answers"] = updated.answers
    after |= dict(details or {})
    await append_audit(
        conn, AuditEntry(incident_id, actor_id, "incident.reopened", now, before, after)
    )
    return updated
