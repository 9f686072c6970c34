"""The audit trail: an append-only hash chain (audit_log).

Rows are appended LAST in a transaction, under a global lock (PostgreSQL advisory transaction
lock; SQLite's write lock), so the chain never forks. Nothing here updates or deletes a row.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import func, select, text
from sqlalchemy.engine import RowMapping

from .aio import AsyncConnection
from .common import aware, canonical_json, is_postgres, iso, plain, to_record
from .records import GENESIS_HASH, AuditProblem, AuditRecord
from .tables import audit_log

# pg_advisory_xact_lock key that serialises audit appends ("leakaudi").
AUDIT_LOCK_KEY: Final[int] = int.from_bytes(b"leakaudi", "big")
_AUDIT_PAGE: Final[int] = 1000


def audit_hash(
    prev_hash: str,
    *,
    incident_id: str | None,
    actor_id: str,
    action: str,
    before: Any,
    after: Any,
    at: datetime,
) -> str:
    """sha256(prev_hash + canonical JSON of the row's fields), hex."""
    body = canonical_json(
        {
            "incident_id": incident_id,
            "actor_id": actor_id,
            "action": action,
            "before": before,
            "after": after,
            "at": iso(at),
            "prev_hash": prev_hash,
        }
    )
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One row to append."""

    incident_id: str | None
    actor_id: str
    action: str
    at: datetime
    before: Any = None
    after: Any = None


def _audit(row: RowMapping) -> AuditRecord:
    return to_record(AuditRecord, row)


# Built once (see common.insert); the rows are parameters.
_INSERT_AUDIT = audit_log.insert().returning(*audit_log.c)
_LAST_HASH = select(audit_log.c.hash).order_by(audit_log.c.id.desc()).limit(1)


async def append_audit(conn: AsyncConnection, *entries: AuditEntry) -> list[AuditRecord]:
    """Append to the hash chain. Call LAST in a transaction: it takes the global audit lock."""
    if not entries:
        return []
    if is_postgres(conn):
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": AUDIT_LOCK_KEY})
    prev = (await conn.execute(_LAST_HASH)).scalar_one_or_none() or GENESIS_HASH
    rows: list[dict[str, Any]] = []
    for entry in entries:
        aware("at", entry.at)
        before, after = plain(entry.before), plain(entry.after)
        digest = audit_hash(
            prev,
            incident_id=entry.incident_id,
            actor_id=entry.actor_id,
            action=entry.action,
            before=before,
            after=after,
            at=entry.at,
        )
        rows.append(
            {
                "incident_id": entry.incident_id,
                "actor_id": entry.actor_id,
                "action": entry.action,
                "before": before,
                "after": after,
                "at": entry.at,
                "prev_hash": prev,
                "hash": digest,
            }
        )
        prev = digest
    # One INSERT for all the rows (a decision writes three); RETURNING gives no order, the
    # hash (unique per row: it chains the previous one) puts them back in the entries' order.
    returned = (await conn.execute(_INSERT_AUDIT, rows)).mappings().all()
    by_hash = {row["hash"]: _audit(row) for row in returned}
    return [by_hash[row["hash"]] for row in rows]


async def audit_trail(conn: AsyncConnection, incident_id: str) -> list[AuditRecord]:
    rows = (
        (
            await conn.execute(
                select(audit_log)
                .where(audit_log.c.incident_id == incident_id)
                .order_by(audit_log.c.id)
            )
        )
        .mappings()
        .all()
    )
    return [_audit(row) for row in rows]


async def audit_head(conn: AsyncConnection) -> tuple[int, str]:
    """(number of audit rows, hash of the last one)."""
    count = int((await conn.execute(select(func.count()).select_from(audit_log))).scalar_one())
    last = (
        await conn.execute(select(audit_log.c.hash).order_by(audit_log.c.id.desc()).limit(1))
    ).scalar_one_or_none()
    return count, last or GENESIS_HASH


async def verify_audit_chain(conn: AsyncConnection) -> list[AuditProblem]:
    """Problems found walking the whole chain, page by page (empty when intact)."""
    problems: list[AuditProblem] = []
    prev = GENESIS_HASH
    last_id = 0
    while True:
        rows = (
            (
                await conn.execute(
                    select(audit_log)
                    .where(audit_log.c.id > last_id)
                    .order_by(audit_log.c.id)
                    .limit(_AUDIT_PAGE)
                )
            )
            .mappings()
            .all()
        )
        if not rows:
            break
        for row in rows:
            record = _audit(row)
            if record.prev_hash != prev:
                problems.append(AuditProblem(record.id, "prev_hash"))
            expected = audit_hash(
                record.prev_hash,
                incident_id=record.incident_id,
                actor_id=record.actor_id,
                action=record.action,
                before=record.before,
                after=record.after,
                at=record.at,
            )
            if expected != record.hash:
                problems.append(AuditProblem(record.id, "hash"))
            prev = record.hash
            last_id = record.id
    return problems
