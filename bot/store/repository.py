"""The `Store`: every read and write of leakbot's data, one interface for SQLite and PostgreSQL.

Conventions
-----------
- Every method that changes state runs as ONE transaction; a failure anywhere leaves nothing.
- Times come from the caller (`now`, aware UTC); the store never reads the clock for data it writes.
- SQLite: WAL, busy_timeout 5 s, foreign keys on; write transactions start with BEGIN IMMEDIATE, so
  concurrent writers (also from other processes) queue for the write lock instead of failing on a
  lock upgrade; read-only work uses a plain (deferred) BEGIN.
- PostgreSQL: writes in READ COMMITTED transactions, reads as single autocommit statements (the
  same snapshot rules, two round trips fewer); a pool of 3 connections per process; explicit row
  locks (`FOR NO KEY UPDATE` on the incident, which does not block foreign-key checks of other
  rows), atomic upserts for counters and claims, and `FOR UPDATE SKIP LOCKED` for the outbox.
  A deadlock / serialisation failure is retried.
- Audit rows are appended last in a transaction, under a global lock (PostgreSQL advisory
  transaction lock; SQLite's write lock), so the hash chain never forks.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Final, Self, TypeVar

from sqlalchemy import ColumnElement, and_, event, func, literal, or_, select, text
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.sql.schema import Table

from bot.domain.partners import normalize_partner

from . import lifecycle as lifecycle_queries
from . import updates as update_queries
from .migrate import read_status, upgrade_to_head
from .records import (
    GENESIS_HASH,
    ApprovalOutcome,
    ApprovalRecord,
    AuditRecord,
    IncidentNotFound,
    IncidentRecord,
    MigrationStatus,
    NewIncident,
    NewTask,
    OutboxItem,
    OutboxMessage,
    TaskOutcome,
    TaskRecord,
    format_incident_id,
)
from .tables import (
    approvals,
    audit_log,
    incident_counters,
    incidents,
    job_runs,
    outbox,
    processed_events,
    tasks,
)
from .urls import display_url, resolve_database_url

__all__ = ["SYSTEM_ACTOR", "OutboxSpec", "Store", "audit_hash", "canonical_json"]

T = TypeVar("T")

SYSTEM_ACTOR: Final[str] = "leakbot"
SQLITE_BUSY_TIMEOUT_MS: Final[int] = 5000
# pg_advisory_xact_lock key that serialises audit appends ("leakaudi").
AUDIT_LOCK_KEY: Final[int] = int.from_bytes(b"leakaudi", "big")
_READ_ONLY: Final[str] = "leakbot_read_only"
_TRANSIENT_PG_STATES: Final[frozenset[str]] = frozenset({"40001", "40P01"})
_MAX_TX_ATTEMPTS: Final[int] = 4
_AUDIT_PAGE: Final[int] = 1000


# --------------------------------------------------------------------------------------------
# helpers


def canonical_json(value: Any) -> str:
    """Deterministic JSON (sorted keys, no spaces, UTF-8 text): the audit hash input."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


def _plain(value: Any) -> Any:
    """The value as it will come back from a JSON column (tuples → lists, keys → str)."""
    return None if value is None else json.loads(canonical_json(value))


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


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
            "at": _iso(at),
            "prev_hash": prev_hash,
        }
    )
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def _aware(name: str, value: datetime) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime (UTC), got {value!r}")
    return value


RecordT = TypeVar("RecordT")


def _record(cls: type[RecordT], row: RowMapping, **converted: Any) -> RecordT:
    """A record dataclass from a row with the same column names (some values converted)."""
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    return cls(**{name: converted[name] if name in converted else row[name] for name in names})


def _chunks(values: Iterable[str], size: int = 500) -> list[list[str]]:
    """Distinct values in lists of `size` (bounded IN lists, for both databases)."""
    distinct = list(dict.fromkeys(values))
    return [distinct[i : i + size] for i in range(0, len(distinct), size)]


def _incident(row: RowMapping) -> IncidentRecord:
    return _record(IncidentRecord, row, decided_by=tuple(row["decided_by"] or ()))


def _approval(row: RowMapping) -> ApprovalRecord:
    return _record(ApprovalRecord, row)


def _audit(row: RowMapping) -> AuditRecord:
    return _record(AuditRecord, row)


def _outbox_item(row: RowMapping) -> OutboxItem:
    return _record(OutboxItem, row)


def _task(row: RowMapping) -> TaskRecord:
    return _record(TaskRecord, row)


def _decision_state(record: IncidentRecord) -> dict[str, Any]:
    return {
        "status": record.status,
        "round": record.round,
        "decided_action": record.decided_action,
        "decided_by": list(record.decided_by),
        "decided_at": _iso(record.decided_at) if record.decided_at else None,
        "decision_reason": record.decision_reason,
    }


OutboxSpec = Sequence[OutboxMessage] | Callable[[IncidentRecord], Sequence[OutboxMessage]]
"""Messages to enqueue with a change: a list, or a function of the resulting incident record
(called inside the transaction — the way to put the new incident id into a payload)."""


def _render(spec: OutboxSpec, record: IncidentRecord) -> Sequence[OutboxMessage]:
    return spec(record) if callable(spec) else spec


@dataclass(frozen=True, slots=True)
class _AuditEntry:
    incident_id: str | None
    actor_id: str
    action: str
    at: datetime
    before: Any = None
    after: Any = None


class _Existing(Exception):
    """Internal: abort a create_incident transaction because the submission already exists."""

    def __init__(self, record: IncidentRecord) -> None:
        super().__init__(record.id)
        self.record = record


def _create_engine(url: str, *, echo: bool) -> AsyncEngine:
    if url.startswith("postgresql"):
        return create_async_engine(
            url,
            echo=echo,
            # Connections idle in autocommit: reads need no BEGIN/ROLLBACK (under READ COMMITTED
            # each statement has its own snapshot anyway) and the pre-ping is one round trip
            # instead of three. Writers get READ COMMITTED transactions (Store._writer).
            isolation_level="AUTOCOMMIT",
            # Few connections on purpose: they bound how much background work (the outbox, the
            # work after an ack) runs at once on the event loop. With 5 + 10 a burst of clicks
            # let that work crowd out the next acks (approval p99 1.7x a bare Bolt app at c=1);
            # with 3 it is 1.3x, and 1.05x at c=32 (bench/ack_latency.py). Nothing holds one
            # connection while waiting for another, so a small pool cannot deadlock.
            pool_size=3,
            max_overflow=0,
            pool_pre_ping=True,
            pool_recycle=1800,
            # Errors must not carry typed content (descriptions, partners) into logs.
            hide_parameters=True,
            json_serializer=_dumps,
            connect_args={"server_settings": {"application_name": "leakbot"}},
        )
    engine = create_async_engine(
        url,
        echo=echo,
        hide_parameters=True,
        json_serializer=_dumps,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
    )
    _install_sqlite_hooks(engine)
    return engine


def _install_sqlite_hooks(engine: AsyncEngine) -> None:
    """WAL + busy_timeout + foreign keys, and our own BEGIN (IMMEDIATE for writers).

    SQLAlchemy's "Serializable isolation / savepoints" recipe: the driver's own transaction
    handling is switched off (isolation_level=None) and the "begin" event emits BEGIN itself.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        read_only = bool(conn.get_execution_options().get(_READ_ONLY, False))
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


# --------------------------------------------------------------------------------------------
# the store


class Store:
    """leakbot's storage. Create with `await Store.open(url)`; `await store.close()` at the end."""

    def __init__(self, engine: AsyncEngine, *, url: str | None = None) -> None:
        self._engine = engine
        self._pg = engine.dialect.name == "postgresql"
        # On PostgreSQL the engine is in autocommit (see _create_engine): writers and the
        # migrations get real transactions here. SQLite readers keep their deferred BEGIN: in
        # WAL mode it gives them one snapshot.
        self._writer = (
            engine.execution_options(isolation_level="READ COMMITTED") if self._pg else engine
        )
        self._reader = engine.execution_options(**{_READ_ONLY: True})
        self._url = url or engine.url.render_as_string(hide_password=False)
        # SQLite has one writer at a time anyway: queue this process's writers here (FIFO, no
        # busy-polling); other processes still wait in BEGIN IMMEDIATE through busy_timeout.
        self._write_gate: asyncio.Lock | None = None if self._pg else asyncio.Lock()

    # -- lifecycle ------------------------------------------------------------------------------

    @classmethod
    async def open(
        cls, url: str | None = None, *, migrate: bool = True, echo: bool = False
    ) -> Self:
        """Connect (DATABASE_URL syntax; None: the default SQLite file) and apply migrations."""
        resolved = resolve_database_url(url)
        engine = _create_engine(resolved, echo=echo)
        store = cls(engine, url=resolved)
        try:
            if migrate:
                await upgrade_to_head(store._writer)
        except BaseException:
            await engine.dispose()
            raise
        return store

    async def close(self) -> None:
        await self._engine.dispose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def dialect(self) -> str:
        """'sqlite' or 'postgresql'."""
        return self._engine.dialect.name

    @property
    def url(self) -> str:
        """The database URL with the password hidden."""
        return display_url(self._url)

    async def ping(self, *, timeout: float = 2.0) -> bool:
        """True when the database answers (for /healthz)."""
        try:
            async with asyncio.timeout(timeout), self._read() as conn:
                await conn.execute(select(literal(1)))
        except Exception:
            return False
        return True

    async def migration_status(self) -> MigrationStatus:
        """(current revision or None, head revision) — for a doctor command."""
        return await read_status(self._reader)

    # -- transactions ---------------------------------------------------------------------------

    def _transient(self, exc: DBAPIError) -> bool:
        if self._pg:
            return getattr(exc.orig, "sqlstate", None) in _TRANSIENT_PG_STATES
        message = str(exc.orig).lower()
        return isinstance(exc, OperationalError) and ("locked" in message or "busy" in message)

    async def _write(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run `work` in one write transaction (retried on deadlock / lock timeout)."""
        attempt = 0
        while True:
            attempt += 1
            try:
                async with self._gate(), self._writer.begin() as conn:
                    return await work(conn)
            except DBAPIError as exc:
                if attempt >= _MAX_TX_ATTEMPTS or not self._transient(exc):
                    raise
            await asyncio.sleep(random.uniform(0.01, 0.05) * attempt)

    @asynccontextmanager
    async def _gate(self) -> AsyncIterator[None]:
        if self._write_gate is None:
            yield
        else:
            async with self._write_gate:
                yield

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncConnection]:
        async with self._reader.connect() as conn:
            yield conn

    def _insert(self, table: Table) -> pg.Insert | sqlite.Insert:
        return pg.insert(table) if self._pg else sqlite.insert(table)

    # -- incidents ------------------------------------------------------------------------------

    async def create_incident(
        self,
        new: NewIncident,
        *,
        now: datetime,
        outbox: OutboxSpec = (),
        tasks: Sequence[NewTask] = (),
        actor_id: str | None = None,
    ) -> tuple[IncidentRecord, bool]:
        """Create the incident with its first audit row, outbox messages and tasks, atomically.

        Returns (record, True), or (existing, False) when `new.submission_key` was seen before.
        The id is LEAK-<year>-<seq>: gapless per year (a rolled-back creation frees its number).
        `outbox` may be a function of the new record (to put its id into texts and button
        values); messages with `incident_id=None` belong to this incident.
        """
        _aware("now", now)
        if not 1 <= new.year <= 9999:
            raise ValueError(f"year out of range: {new.year}")
        partner_key = normalize_partner(new.partner)
        key = new.submission_key
        by_key = incidents.c.submission_key == key

        async def work(conn: AsyncConnection) -> tuple[IncidentRecord, bool]:
            if key is not None and (existing := await self._incident_where(conn, by_key)):
                raise _Existing(existing)
            seq = await self._next_seq(conn, new.year)
            # A double submit may have committed while we waited for the counter row's lock.
            if key is not None and (existing := await self._incident_where(conn, by_key)):
                raise _Existing(existing)
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
                        )
                        .returning(*incidents.c)
                    )
                )
                .mappings()
                .one()
            )
            record = _incident(row)
            await self._enqueue(conn, _render(outbox, record), now=now, incident_id=incident_id)
            await self._insert_tasks(conn, incident_id, 1, tasks, now=now)
            after: dict[str, Any] = {
                "partner": new.partner,
                "answers": record.answers,
                "recommendation": new.recommendation,
            }
            if tasks:
                after["tasks"] = [{"kind": t.kind, "ref": t.ref} for t in tasks]
            await self._append_audit(
                conn,
                _AuditEntry(
                    incident_id, actor_id or new.reporter_id, "incident.created", now, None, after
                ),
            )
            return record, True

        try:
            return await self._write(work)
        except _Existing as exc:
            return exc.record, False
        except IntegrityError:
            if key is not None:
                existing = await self.get_incident_by_submission_key(key)
                if existing is not None:
                    return existing, False
            raise

    async def _next_seq(self, conn: AsyncConnection, year: int) -> int:
        # Atomic upsert: the counter row stays locked until commit, so numbers are clash-free,
        # and a rollback gives the number back (gapless).
        stmt = (
            self._insert(incident_counters)
            .values(year=year, last_seq=1)
            .on_conflict_do_update(
                index_elements=[incident_counters.c.year],
                set_={"last_seq": incident_counters.c.last_seq + 1},
            )
            .returning(incident_counters.c.last_seq)
        )
        return int((await conn.execute(stmt)).scalar_one())

    async def _incident_where(
        self, conn: AsyncConnection, condition: ColumnElement[bool], *, lock: bool = False
    ) -> IncidentRecord | None:
        query = select(incidents).where(condition)
        if lock:
            query = query.with_for_update(key_share=True)  # FOR NO KEY UPDATE on PostgreSQL
        row = (await conn.execute(query)).mappings().one_or_none()
        return None if row is None else _incident(row)

    async def _lock_incident(
        self, conn: AsyncConnection, incident_id: str
    ) -> IncidentRecord | None:
        return await self._incident_where(conn, incidents.c.id == incident_id, lock=True)

    async def _update_incident(
        self, conn: AsyncConnection, incident_id: str, **values: Any
    ) -> IncidentRecord:
        row = (
            (
                await conn.execute(
                    incidents.update()
                    .where(incidents.c.id == incident_id)
                    .values(**values)
                    .returning(*incidents.c)
                )
            )
            .mappings()
            .one()
        )
        return _incident(row)

    async def get_incident(self, incident_id: str) -> IncidentRecord | None:
        async with self._read() as conn:
            return await self._incident_where(conn, incidents.c.id == incident_id)

    async def get_incidents(self, incident_ids: Iterable[str]) -> dict[str, IncidentRecord]:
        """Several incidents by id in a few queries (missing ids are left out)."""
        found: dict[str, IncidentRecord] = {}
        for chunk in _chunks(incident_ids):
            for record in await self._incidents(select(incidents).where(incidents.c.id.in_(chunk))):
                found[record.id] = record
        return found

    async def get_incident_by_submission_key(self, submission_key: str) -> IncidentRecord | None:
        async with self._read() as conn:
            return await self._incident_where(conn, incidents.c.submission_key == submission_key)

    async def _incidents(self, query: Any) -> list[IncidentRecord]:
        async with self._read() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_incident(row) for row in rows]

    async def list_incidents(
        self,
        *,
        statuses: Iterable[str] | None = None,
        limit: int = 50,
        reporter_id: str | None = None,
        created_before: datetime | None = None,
    ) -> list[IncidentRecord]:
        """Newest first; `created_before`: created at or before that time."""
        query = select(incidents)
        if statuses is not None:
            wanted = [statuses] if isinstance(statuses, str) else list(statuses)
            query = query.where(incidents.c.status.in_(wanted))
        if reporter_id is not None:
            query = query.where(incidents.c.reporter_id == reporter_id)
        if created_before is not None:
            query = query.where(incidents.c.created_at <= _aware("created_before", created_before))
        query = query.order_by(incidents.c.created_at.desc(), incidents.c.id.desc()).limit(limit)
        return await self._incidents(query)

    async def incidents_created_between(
        self, start: datetime, end: datetime
    ) -> list[IncidentRecord]:
        """start <= created_at < end, oldest first."""
        query = (
            select(incidents)
            .where(incidents.c.created_at >= _aware("start", start))
            .where(incidents.c.created_at < _aware("end", end))
            .order_by(incidents.c.created_at, incidents.c.id)
        )
        return await self._incidents(query)

    async def incidents_decided_between(
        self, start: datetime, end: datetime
    ) -> list[IncidentRecord]:
        """start <= decided_at < end (decisions and rejections; filter on status), oldest first."""
        query = (
            select(incidents)
            .where(incidents.c.decided_at >= _aware("start", start))
            .where(incidents.c.decided_at < _aware("end", end))
            .order_by(incidents.c.decided_at, incidents.c.id)
        )
        return await self._incidents(query)

    async def count_incidents_for_partner(
        self,
        partner: str,
        *,
        exclude_id: str | None = None,
        created_before: datetime | None = None,
    ) -> int:
        """Incidents with this partner (a name as typed or a key: it is normalised again)."""
        query = select(func.count()).select_from(incidents)
        query = query.where(incidents.c.partner_key == normalize_partner(partner))
        if exclude_id is not None:
            query = query.where(incidents.c.id != exclude_id)
        if created_before is not None:
            query = query.where(incidents.c.created_at < _aware("created_before", created_before))
        async with self._read() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def partners_with_multiple_incidents(
        self, since: datetime | None = None, *, min_count: int = 2
    ) -> list[tuple[str, int]]:
        """(partner name as most recently typed, count) for partners with >= min_count incidents
        created at/after `since` (all time when None); most incidents first."""
        query = select(incidents.c.partner_key, incidents.c.partner, incidents.c.created_at)
        if since is not None:
            query = query.where(incidents.c.created_at >= _aware("since", since))
        query = query.order_by(incidents.c.created_at, incidents.c.id)
        async with self._read() as conn:
            rows = (await conn.execute(query)).all()
        counts: dict[str, int] = {}
        names: dict[str, str] = {}
        for partner_key, partner, _created in rows:
            counts[partner_key] = counts.get(partner_key, 0) + 1
            names[partner_key] = partner
        found = [(names[k], n) for k, n in counts.items() if n >= min_count]
        return sorted(found, key=lambda item: (-item[1], item[0]))

    async def set_message_ref(
        self, incident_id: str, channel_id: str, message_ts: str, *, now: datetime
    ) -> bool:
        """Remember where the recommendation was posted (idempotent). False: no such incident."""
        _aware("now", now)

        async def work(conn: AsyncConnection) -> bool:
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

        return await self._write(work)

    async def reopen_for_new_round(
        self,
        incident_id: str,
        *,
        assessment: Mapping[str, Any],
        recommendation: str,
        actor_id: str,
        reason: str,
        now: datetime,
        outbox: OutboxSpec = (),
        answers: Mapping[str, Any] | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> IncidentRecord:
        """Re-assessment: round + 1, status 'pending', decision cleared (it stays in the audit
        trail), new assessment / recommendation (and answers, when given). `details` go into
        the audit row's `after` (what caused it). Raises IncidentNotFound."""
        _aware("now", now)

        async def work(conn: AsyncConnection) -> IncidentRecord:
            current = await self._lock_incident(conn, incident_id)
            if current is None:
                raise IncidentNotFound(incident_id)
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
            updated = await self._update_incident(conn, incident_id, **values)
            await self._enqueue(conn, _render(outbox, updated), now=now, incident_id=incident_id)
            before = _decision_state(current) | {"recommendation": current.recommendation}
            after = _decision_state(updated) | {
                "recommendation": updated.recommendation,
                "reason": reason,
            }
            if answers is not None:
                before["answers"] = current.answers
                after["answers"] = updated.answers
            after |= dict(details or {})
            await self._append_audit(
                conn, _AuditEntry(incident_id, actor_id, "incident.reopened", now, before, after)
            )
            return updated

        return await self._write(work)

    async def close_incident(
        self,
        incident_id: str,
        *,
        actor_id: str,
        reason: str | None,
        now: datetime,
        outbox: OutboxSpec = (),
    ) -> IncidentRecord:
        """Status 'closed' (follow-ups finished or withdrawn). Idempotent; raises
        IncidentNotFound."""
        _aware("now", now)

        async def work(conn: AsyncConnection) -> IncidentRecord:
            current = await self._lock_incident(conn, incident_id)
            if current is None:
                raise IncidentNotFound(incident_id)
            if current.status == "closed":
                return current
            updated = await self._update_incident(
                conn, incident_id, status="closed", updated_at=now
            )
            await self._enqueue(conn, _render(outbox, updated), now=now, incident_id=incident_id)
            await self._append_audit(
                conn,
                _AuditEntry(
                    incident_id,
                    actor_id,
                    "incident.closed",
                    now,
                    {"status": current.status},
                    {"status": "closed", "reason": reason},
                ),
            )
            return updated

        return await self._write(work)

    # -- closing with an outcome (issue 12; queries in bot/store/lifecycle.py) ----------------

    async def close_with_outcome(
        self,
        incident_id: str,
        *,
        actor_id: str,
        outcome: str,
        note: str | None,
        regulator: Sequence[Mapping[str, Any]],
        done_task_ids: Sequence[int],
        now: datetime,
        outbox: OutboxSpec = (),
    ) -> IncidentRecord | None:
        """Close with an outcome, marking the tasks confirmed done; None when it was closed
        already (nothing changes). Raises IncidentNotFound."""
        _aware("now", now)

        async def work(conn: AsyncConnection) -> IncidentRecord | None:
            current = await self._lock_incident(conn, incident_id)
            if current is None:
                raise IncidentNotFound(incident_id)
            if current.status == "closed":
                return None
            updated = await self._update_incident(
                conn, incident_id, status="closed", updated_at=now
            )
            await lifecycle_queries.insert_closure(
                conn,
                incident_id=incident_id,
                round_=current.round,
                outcome=outcome,
                note=note,
                regulator=regulator,
                actor_id=actor_id,
                now=now,
            )
            done = await lifecycle_queries.complete_tasks(
                conn, done_task_ids, actor_id=actor_id, now=now
            )
            await self._enqueue(conn, _render(outbox, updated), now=now, incident_id=incident_id)
            after = {
                "status": "closed",
                "outcome": outcome,
                "note": note,
                "regulator": [dict(item) for item in regulator],
                "tasks_done": done,
            }
            await self._append_audit(
                conn,
                _AuditEntry(
                    incident_id, actor_id, "incident.closed", now, {"status": current.status}, after
                ),
            )
            return updated

        return await self._write(work)

    async def reopen_closed(
        self, incident_id: str, *, actor_id: str, now: datetime, outbox: OutboxSpec = ()
    ) -> IncidentRecord | None:
        """A closed incident back to where it was (decided, sent back or pending); None when it
        was not closed. Raises IncidentNotFound."""
        _aware("now", now)

        async def work(conn: AsyncConnection) -> IncidentRecord | None:
            current = await self._lock_incident(conn, incident_id)
            if current is None:
                raise IncidentNotFound(incident_id)
            if current.status != "closed":
                return None
            if current.decided_action is not None:
                status = "decided"
            elif current.decided_by:
                status = "rejected"
            else:
                status = "pending"
            updated = await self._update_incident(conn, incident_id, status=status, updated_at=now)
            await lifecycle_queries.mark_reopened(conn, incident_id, actor_id=actor_id, now=now)
            await self._enqueue(conn, _render(outbox, updated), now=now, incident_id=incident_id)
            await self._append_audit(
                conn,
                _AuditEntry(
                    incident_id,
                    actor_id,
                    "incident.reopened_after_close",
                    now,
                    {"status": "closed"},
                    {"status": status},
                ),
            )
            return updated

        return await self._write(work)

    async def latest_closure(self, incident_id: str) -> lifecycle_queries.ClosureRecord | None:
        async with self._read() as conn:
            return await lifecycle_queries.latest_closure(conn, incident_id)

    async def list_incidents_page(
        self,
        *,
        statuses: Sequence[str] | None,
        partner_text: str | None = None,
        reporter_id: str | None = None,
        limit: int = 30,
        offset: int = 0,
    ) -> tuple[list[IncidentRecord], int]:
        """One page of incidents, newest first, and how many match in all."""
        async with self._read() as conn:
            rows, total = await lifecycle_queries.list_page(
                conn,
                statuses=statuses,
                partner_text=partner_text,
                reporter_id=reporter_id,
                limit=limit,
                offset=offset,
            )
        return [_incident(row) for row in rows], total

    # -- new facts (issue 12; queries in bot/store/updates.py) ---------------------------------

    async def replace_facts(
        self,
        incident_id: str,
        *,
        answers: Mapping[str, Any],
        assessment: Mapping[str, Any],
        actor_id: str,
        changes: Mapping[str, Any],
        now: datetime,
        outbox: OutboxSpec = (),
    ) -> IncidentRecord:
        """New answers and assessment in the same round (the recommendation did not change):
        the decision stands. Raises IncidentNotFound."""
        _aware("now", now)

        async def work(conn: AsyncConnection) -> IncidentRecord:
            current = await self._lock_incident(conn, incident_id)
            if current is None:
                raise IncidentNotFound(incident_id)
            row = await update_queries.replace_facts(
                conn, incident_id, answers=answers, assessment=assessment, now=now
            )
            updated = _incident(row)
            await self._enqueue(conn, _render(outbox, updated), now=now, incident_id=incident_id)
            await self._append_audit(
                conn,
                _AuditEntry(
                    incident_id,
                    actor_id,
                    "incident.updated",
                    now,
                    {"answers": current.answers, "round": current.round},
                    {"answers": updated.answers, "changes": dict(changes)},
                ),
            )
            return updated

        return await self._write(work)

    async def adjust_tasks(
        self,
        incident_id: str,
        *,
        cancel: Sequence[int],
        move: Mapping[int, datetime],
        actor_id: str,
        now: datetime,
    ) -> None:
        """Open follow-ups whose deadline no longer applies are cancelled (removed), those whose
        deadline moved get the new due time; one audit row says which."""
        _aware("now", now)

        async def work(conn: AsyncConnection) -> None:
            cancelled = await update_queries.cancel_open_tasks(conn, incident_id, cancel)
            moved = await update_queries.move_open_tasks(conn, incident_id, move)
            if cancelled or moved:
                await self._append_audit(
                    conn,
                    _AuditEntry(
                        incident_id,
                        actor_id,
                        "tasks.adjusted",
                        now,
                        None,
                        {"cancelled": cancelled, "moved": moved},
                    ),
                )

        await self._write(work)

    # -- approvals ------------------------------------------------------------------------------

    async def _approvers(
        self, conn: AsyncConnection, incident_id: str, round_: int, action: str
    ) -> tuple[str, ...]:
        rows = await conn.execute(
            select(approvals.c.approver_id)
            .where(approvals.c.incident_id == incident_id)
            .where(approvals.c.round == round_)
            .where(approvals.c.action == action)
            .order_by(approvals.c.created_at, approvals.c.id)
        )
        return tuple(rows.scalars().all())

    async def record_approval(
        self,
        incident_id: str,
        *,
        approver_id: str,
        action: str,
        required: int,
        now: datetime,
        on_decided: Callable[[IncidentRecord], Sequence[OutboxMessage]] | None = None,
        expected_round: int | None = None,
    ) -> ApprovalOutcome:
        """One approver's vote for `action` in the current round, with the incident row locked.

        Decides the incident when `required` distinct approvers chose the same action; then the
        messages from `on_decided(decided_record)` are enqueued in the same transaction (so the
        callback must be pure: it may run again when the transaction is retried). An approver
        who switches action replaces their earlier vote. With `expected_round`, a vote cast on
        another round's message is refused ("stale") under the same lock.
        """
        _aware("now", now)
        if required < 1:
            raise ValueError("required must be at least 1")

        async def work(conn: AsyncConnection) -> ApprovalOutcome:
            incident = await self._lock_incident(conn, incident_id)
            if incident is None:
                return ApprovalOutcome("not_found", None, action=action, needed=required)
            if expected_round is not None and incident.round != expected_round:
                return ApprovalOutcome("stale", incident, action=action, needed=required)
            if incident.status != "pending":
                return ApprovalOutcome(
                    "not_pending",
                    incident,
                    action=incident.decided_action,
                    needed=required,
                    approvers=incident.decided_by,
                )
            round_ = incident.round
            mine = and_(
                approvals.c.incident_id == incident_id,
                approvals.c.round == round_,
                approvals.c.approver_id == approver_id,
            )
            previous = (
                await conn.execute(select(approvals.c.action).where(mine))
            ).scalar_one_or_none()
            if previous == action:
                approvers = await self._approvers(conn, incident_id, round_, action)
                return ApprovalOutcome(
                    "duplicate", incident, action, len(approvers), required, approvers
                )
            entries: list[_AuditEntry] = []
            vote = {"round": round_, "action": action}
            if previous is None:
                await conn.execute(
                    approvals.insert().values(
                        incident_id=incident_id,
                        round=round_,
                        approver_id=approver_id,
                        action=action,
                        created_at=now,
                    )
                )
                entries.append(
                    _AuditEntry(incident_id, approver_id, "approval.recorded", now, None, vote)
                )
            else:
                await conn.execute(
                    approvals.update().where(mine).values(action=action, created_at=now)
                )
                entries.append(
                    _AuditEntry(
                        incident_id,
                        approver_id,
                        "approval.changed",
                        now,
                        {"round": round_, "action": previous},
                        vote,
                    )
                )
            approvers = await self._approvers(conn, incident_id, round_, action)
            if len(approvers) < required:
                updated = await self._update_incident(conn, incident_id, updated_at=now)
                await self._append_audit(conn, *entries)
                return ApprovalOutcome(
                    "recorded", updated, action, len(approvers), required, approvers, previous
                )
            decided = await self._update_incident(
                conn,
                incident_id,
                status="decided",
                decided_action=action,
                decided_by=list(approvers),
                decided_at=now,
                decision_reason=None,
                updated_at=now,
            )
            messages = on_decided(decided) if on_decided is not None else ()
            await self._enqueue(conn, messages, now=now, incident_id=incident_id)
            entries.append(
                _AuditEntry(
                    incident_id,
                    approver_id,
                    "incident.decided",
                    now,
                    _decision_state(incident),
                    _decision_state(decided) | {"required": required},
                )
            )
            await self._append_audit(conn, *entries)
            return ApprovalOutcome(
                "decided", decided, action, len(approvers), required, approvers, previous
            )

        return await self._write(work)

    async def reject(
        self,
        incident_id: str,
        *,
        actor_id: str,
        reason: str | None,
        now: datetime,
        on_rejected: Callable[[IncidentRecord], Sequence[OutboxMessage]] | None = None,
    ) -> ApprovalOutcome:
        """Send the pending incident back: status 'rejected' (kinds: rejected / not_pending /
        not_found). A re-assessment later reopens it with `reopen_for_new_round`."""
        _aware("now", now)

        async def work(conn: AsyncConnection) -> ApprovalOutcome:
            incident = await self._lock_incident(conn, incident_id)
            if incident is None:
                return ApprovalOutcome("not_found", None)
            if incident.status != "pending":
                return ApprovalOutcome(
                    "not_pending",
                    incident,
                    action=incident.decided_action,
                    approvers=incident.decided_by,
                )
            rejected = await self._update_incident(
                conn,
                incident_id,
                status="rejected",
                decided_action=None,
                decided_by=[actor_id],
                decided_at=now,
                decision_reason=reason,
                updated_at=now,
            )
            messages = on_rejected(rejected) if on_rejected is not None else ()
            await self._enqueue(conn, messages, now=now, incident_id=incident_id)
            await self._append_audit(
                conn,
                _AuditEntry(
                    incident_id,
                    actor_id,
                    "incident.rejected",
                    now,
                    _decision_state(incident),
                    _decision_state(rejected),
                ),
            )
            return ApprovalOutcome("rejected", rejected, approvers=(actor_id,))

        return await self._write(work)

    async def approvals_for(
        self, incident_id: str, round: int | None = None
    ) -> list[ApprovalRecord]:
        """Approvals of one round (default: the incident's current round), oldest first."""
        async with self._read() as conn:
            if round is None:
                round = (
                    await conn.execute(
                        select(incidents.c.round).where(incidents.c.id == incident_id)
                    )
                ).scalar_one_or_none()
                if round is None:
                    return []
            rows = (
                (
                    await conn.execute(
                        select(approvals)
                        .where(approvals.c.incident_id == incident_id)
                        .where(approvals.c.round == round)
                        .order_by(approvals.c.created_at, approvals.c.id)
                    )
                )
                .mappings()
                .all()
            )
        return [_approval(row) for row in rows]

    # -- audit trail ----------------------------------------------------------------------------

    async def _append_audit(
        self, conn: AsyncConnection, *entries: _AuditEntry
    ) -> list[AuditRecord]:
        """Append to the hash chain. Call LAST in a transaction: it takes the global audit lock."""
        if not entries:
            return []
        if self._pg:
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": AUDIT_LOCK_KEY})
        prev = (
            await conn.execute(select(audit_log.c.hash).order_by(audit_log.c.id.desc()).limit(1))
        ).scalar_one_or_none() or GENESIS_HASH
        appended: list[AuditRecord] = []
        for entry in entries:
            _aware("at", entry.at)
            before, after = _plain(entry.before), _plain(entry.after)
            digest = audit_hash(
                prev,
                incident_id=entry.incident_id,
                actor_id=entry.actor_id,
                action=entry.action,
                before=before,
                after=after,
                at=entry.at,
            )
            row = (
                (
                    await conn.execute(
                        audit_log.insert()
                        .values(
                            incident_id=entry.incident_id,
                            actor_id=entry.actor_id,
                            action=entry.action,
                            before=before,
                            after=after,
                            at=entry.at,
                            prev_hash=prev,
                            hash=digest,
                        )
                        .returning(*audit_log.c)
                    )
                )
                .mappings()
                .one()
            )
            appended.append(_audit(row))
            prev = digest
        return appended

    async def append_audit(
        self,
        actor_id: str,
        action: str,
        *,
        incident_id: str | None = None,
        before: Any = None,
        after: Any = None,
        now: datetime,
    ) -> AuditRecord:
        """Record an event that changes nothing else (e.g. 'summary.posted')."""
        _aware("now", now)

        async def work(conn: AsyncConnection) -> AuditRecord:
            entry = _AuditEntry(incident_id, actor_id, action, now, before, after)
            return (await self._append_audit(conn, entry))[0]

        return await self._write(work)

    async def audit_trail(self, incident_id: str) -> list[AuditRecord]:
        async with self._read() as conn:
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

    async def audit_head(self) -> tuple[int, str]:
        """(number of audit rows, hash of the last one): publish it somewhere to detect a
        truncated tail, which the chain alone cannot show."""
        async with self._read() as conn:
            count = int(
                (await conn.execute(select(func.count()).select_from(audit_log))).scalar_one()
            )
            last = (
                await conn.execute(
                    select(audit_log.c.hash).order_by(audit_log.c.id.desc()).limit(1)
                )
            ).scalar_one_or_none()
        return count, last or GENESIS_HASH

    async def verify_audit_chain(self) -> list[str]:
        """Problems found walking the whole chain (empty when intact)."""
        problems: list[str] = []
        prev = GENESIS_HASH
        last_id = 0
        async with self._read() as conn:
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
                        problems.append(
                            f"audit row {record.id}: prev_hash does not match the previous row's "
                            "hash (a row was removed, inserted or changed before it)"
                        )
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
                        problems.append(f"audit row {record.id}: hash does not match its content")
                    prev = record.hash
                    last_id = record.id
        return problems

    # -- outbox ---------------------------------------------------------------------------------

    async def _enqueue(
        self,
        conn: AsyncConnection,
        messages: Sequence[OutboxMessage],
        *,
        now: datetime,
        incident_id: str | None = None,
    ) -> list[int]:
        ids: list[int] = []
        for message in messages:
            due = now
            if message.not_before is not None:
                due = max(now, _aware("not_before", message.not_before))
            stmt = self._insert(outbox).values(
                incident_id=message.incident_id or incident_id,
                kind=message.kind,
                method=message.method,
                payload=dict(message.payload),
                dedupe_key=message.dedupe_key,
                status="pending",
                attempts=0,
                next_attempt_at=due,
                created_at=now,
            )
            if message.dedupe_key is not None:
                stmt = stmt.on_conflict_do_nothing(index_elements=[outbox.c.dedupe_key])
            new_id = (await conn.execute(stmt.returning(outbox.c.id))).scalar_one_or_none()
            if new_id is not None:
                ids.append(int(new_id))
        return ids

    async def enqueue(self, messages: Sequence[OutboxMessage], *, now: datetime) -> list[int]:
        """Queue Slack calls; returns the new item ids (a duplicate dedupe_key is skipped)."""
        _aware("now", now)
        if not messages:
            return []

        async def work(conn: AsyncConnection) -> list[int]:
            return await self._enqueue(conn, messages, now=now)

        return await self._write(work)

    async def claim_outbox(
        self, *, now: datetime, worker_id: str, limit: int = 20, lease_seconds: float = 60
    ) -> list[OutboxItem]:
        """Lease due items to this worker (attempts + 1), oldest first.

        Per incident, items go out in order: an item is never returned while an older pending
        item of the same incident exists (leased, backing off or due), so at most one item per
        incident is in flight. Items without an incident are independent.
        """
        _aware("now", now)
        older = outbox.alias("older")
        blocked = (
            select(literal(1))
            .select_from(older)
            .where(older.c.incident_id == outbox.c.incident_id)
            .where(older.c.status == "pending")
            .where(older.c.id < outbox.c.id)
            .exists()
        )
        query = (
            select(outbox.c.id)
            .where(outbox.c.status == "pending")
            .where(outbox.c.next_attempt_at <= now)
            .where(or_(outbox.c.lease_until.is_(None), outbox.c.lease_until <= now))
            .where(or_(outbox.c.incident_id.is_(None), ~blocked))
            .order_by(outbox.c.id)
            .limit(limit)
        )
        if self._pg:
            query = query.with_for_update(skip_locked=True, of=outbox)
        lease_until = now + timedelta(seconds=lease_seconds)

        async def work(conn: AsyncConnection) -> list[OutboxItem]:
            ids = list((await conn.execute(query)).scalars().all())
            if not ids:
                return []
            rows = (
                (
                    await conn.execute(
                        outbox.update()
                        .where(outbox.c.id.in_(ids))
                        .values(
                            lease_until=lease_until,
                            leased_by=worker_id,
                            attempts=outbox.c.attempts + 1,
                        )
                        .returning(*outbox.c)
                    )
                )
                .mappings()
                .all()
            )
            return sorted((_outbox_item(row) for row in rows), key=lambda item: item.id)

        return await self._write(work)

    async def _finish_item(self, item_id: int, worker_id: str, **values: Any) -> bool:
        async def work(conn: AsyncConnection) -> bool:
            result = await conn.execute(
                outbox.update()
                .where(outbox.c.id == item_id)
                .where(outbox.c.status == "pending")
                .where(outbox.c.leased_by == worker_id)
                .values(lease_until=None, leased_by=None, **values)
                .returning(outbox.c.id)
            )
            return result.first() is not None

        return await self._write(work)

    async def mark_sent(
        self, item_id: int, *, result: Mapping[str, Any] | None, now: datetime, worker_id: str
    ) -> bool:
        """Delivered (`result` e.g. {"channel": ..., "ts": ...}). False: the lease was lost."""
        _aware("now", now)
        return await self._finish_item(
            item_id,
            worker_id,
            status="sent",
            sent_at=now,
            result=None if result is None else dict(result),
            last_error=None,
        )

    async def mark_retry(
        self, item_id: int, *, error: str, next_attempt_at: datetime, worker_id: str
    ) -> bool:
        """Failed, try again at `next_attempt_at`. False: the lease was lost."""
        _aware("next_attempt_at", next_attempt_at)
        return await self._finish_item(
            item_id, worker_id, next_attempt_at=next_attempt_at, last_error=error
        )

    async def mark_dead(self, item_id: int, *, error: str, now: datetime, worker_id: str) -> bool:
        """Give up (no longer blocks later items of its incident). False: the lease was lost."""
        _aware("now", now)
        return await self._finish_item(item_id, worker_id, status="dead", last_error=error)

    async def outbox_depth(self) -> int:
        """Pending items (due or not)."""
        async with self._read() as conn:
            query = select(func.count()).select_from(outbox).where(outbox.c.status == "pending")
            return int((await conn.execute(query)).scalar_one())

    async def outbox_items(
        self, incident_id: str | None = None, *, status: str | None = None
    ) -> list[OutboxItem]:
        """All items (of one incident / with one status), oldest first."""
        query = select(outbox).order_by(outbox.c.id)
        if incident_id is not None:
            query = query.where(outbox.c.incident_id == incident_id)
        if status is not None:
            query = query.where(outbox.c.status == status)
        async with self._read() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_outbox_item(row) for row in rows]

    async def queued_dedupe_keys(self, keys: Iterable[str]) -> set[str]:
        """Which of these dedupe keys an outbox item already has (any status)."""
        found: set[str] = set()
        for chunk in _chunks(keys):
            async with self._read() as conn:
                rows = await conn.execute(
                    select(outbox.c.dedupe_key).where(outbox.c.dedupe_key.in_(chunk))
                )
                found.update(str(key) for (key,) in rows)
        return found

    async def last_sent_result(self, incident_id: str, kind: str) -> dict[str, Any] | None:
        """The `result` of the latest sent item of this kind for this incident (e.g. the
        channel and ts of the posted recommendation), or None."""
        query = (
            select(outbox.c.result)
            .where(outbox.c.incident_id == incident_id)
            .where(outbox.c.kind == kind)
            .where(outbox.c.status == "sent")
            .order_by(outbox.c.sent_at.desc(), outbox.c.id.desc())
            .limit(1)
        )
        async with self._read() as conn:
            value = (await conn.execute(query)).scalar_one_or_none()
        return None if value is None else dict(value)

    # -- Slack delivery dedupe ------------------------------------------------------------------

    async def _remember(self, conn: AsyncConnection, key: str, now: datetime) -> bool:
        stmt = (
            self._insert(processed_events)
            .values(key=key, at=now)
            .on_conflict_do_nothing(index_elements=[processed_events.c.key])
            .returning(processed_events.c.key)
        )
        return (await conn.execute(stmt)).first() is not None

    async def remember_event(self, key: str, *, now: datetime) -> bool:
        """True the first time `key` is seen, False afterwards."""
        _aware("now", now)

        async def work(conn: AsyncConnection) -> bool:
            return await self._remember(conn, key, now)

        return await self._write(work)

    async def forget_events_before(self, cutoff: datetime) -> int:
        """Prune processed_events older than `cutoff` (Slack retries within minutes)."""
        _aware("cutoff", cutoff)

        async def work(conn: AsyncConnection) -> int:
            result = await conn.execute(
                processed_events.delete()
                .where(processed_events.c.at < cutoff)
                .returning(processed_events.c.key)
            )
            return len(result.all())

        return await self._write(work)

    # -- follow-up tasks ------------------------------------------------------------------------

    async def _insert_tasks(
        self,
        conn: AsyncConnection,
        incident_id: str,
        round_: int,
        new_tasks: Sequence[NewTask],
        *,
        now: datetime,
    ) -> list[int]:
        if not new_tasks:
            return []
        for task in new_tasks:
            if task.due_at is not None:
                _aware("due_at", task.due_at)
        # One multi-row INSERT (not one per task): a decision creates ~10 tasks.
        stmt = (
            self._insert(tasks)
            .values(
                [
                    {
                        "incident_id": incident_id,
                        "round": round_,
                        "kind": task.kind,
                        "ref": task.ref,
                        "title": dict(task.title),
                        "owner_id": task.owner_id,
                        "due_at": task.due_at,
                        "status": "open",
                        "created_at": now,
                    }
                    for task in new_tasks
                ]
            )
            .on_conflict_do_nothing(
                index_elements=[tasks.c.incident_id, tasks.c.round, tasks.c.kind, tasks.c.ref]
            )
            .returning(tasks.c.id)
        )
        created = [int(new_id) for new_id in (await conn.execute(stmt)).scalars()]
        return created

    async def create_tasks(
        self,
        incident_id: str,
        new_tasks: Sequence[NewTask],
        *,
        now: datetime,
        actor_id: str = SYSTEM_ACTOR,
    ) -> list[TaskRecord]:
        """Create follow-ups for the incident's current round; idempotent per (round, kind, ref).
        Returns the records for the given tasks (new or existing), in order. Raises
        IncidentNotFound."""
        _aware("now", now)

        async def work(conn: AsyncConnection) -> list[TaskRecord]:
            round_ = (
                await conn.execute(select(incidents.c.round).where(incidents.c.id == incident_id))
            ).scalar_one_or_none()
            if round_ is None:
                raise IncidentNotFound(incident_id)
            created = await self._insert_tasks(conn, incident_id, round_, new_tasks, now=now)
            rows = (
                (
                    await conn.execute(
                        select(tasks)
                        .where(tasks.c.incident_id == incident_id)
                        .where(tasks.c.round == round_)
                    )
                )
                .mappings()
                .all()
            )
            by_ref = {(row["kind"], row["ref"]): _task(row) for row in rows}
            result = [by_ref[(task.kind, task.ref)] for task in new_tasks]
            if created:
                after = [
                    {"id": t.id, "kind": t.kind, "ref": t.ref, "owner_id": t.owner_id}
                    | {"due_at": _iso(t.due_at) if t.due_at else None}
                    for t in result
                    if t.id in created
                ]
                await self._append_audit(
                    conn,
                    _AuditEntry(
                        incident_id, actor_id, "tasks.created", now, None, {"tasks": after}
                    ),
                )
            return result

        return await self._write(work)

    async def tasks_for(self, incident_id: str) -> list[TaskRecord]:
        query = select(tasks).where(tasks.c.incident_id == incident_id).order_by(tasks.c.id)
        return await self._tasks(query)

    async def tasks_for_incidents(self, incident_ids: Iterable[str]) -> dict[str, list[TaskRecord]]:
        """`tasks_for` of several incidents in a few queries (every id gets a list)."""
        wanted = list(dict.fromkeys(incident_ids))
        found: dict[str, list[TaskRecord]] = {incident_id: [] for incident_id in wanted}
        for chunk in _chunks(wanted):
            query = select(tasks).where(tasks.c.incident_id.in_(chunk)).order_by(tasks.c.id)
            for task in await self._tasks(query):
                found[task.incident_id].append(task)
        return found

    async def get_task(self, task_id: int) -> TaskRecord | None:
        found = await self._tasks(select(tasks).where(tasks.c.id == task_id))
        return found[0] if found else None

    async def _tasks(self, query: Any) -> list[TaskRecord]:
        async with self._read() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_task(row) for row in rows]

    async def complete_task(self, task_id: int, *, actor_id: str, now: datetime) -> TaskOutcome:
        _aware("now", now)

        async def work(conn: AsyncConnection) -> TaskOutcome:
            row = (
                (
                    await conn.execute(
                        select(tasks).where(tasks.c.id == task_id).with_for_update(key_share=True)
                    )
                )
                .mappings()
                .one_or_none()
            )
            if row is None:
                return TaskOutcome("not_found")
            if row["status"] == "done":
                return TaskOutcome("already_done", _task(row))
            done = (
                (
                    await conn.execute(
                        tasks.update()
                        .where(tasks.c.id == task_id)
                        .values(status="done", done_by=actor_id, done_at=now)
                        .returning(*tasks.c)
                    )
                )
                .mappings()
                .one()
            )
            record = _task(done)
            await self._append_audit(
                conn,
                _AuditEntry(
                    record.incident_id,
                    actor_id,
                    "task.done",
                    now,
                    {"task_id": record.id, "status": "open"},
                    {
                        "task_id": record.id,
                        "status": "done",
                        "kind": record.kind,
                        "ref": record.ref,
                    },
                ),
            )
            return TaskOutcome("done", record)

        return await self._write(work)

    async def open_tasks_due_before(self, t: datetime) -> list[TaskRecord]:
        """Open tasks with due_at < t, earliest first."""
        query = (
            select(tasks)
            .where(tasks.c.status == "open")
            .where(tasks.c.due_at.is_not(None))
            .where(tasks.c.due_at < _aware("t", t))
            .order_by(tasks.c.due_at, tasks.c.id)
        )
        return await self._tasks(query)

    async def all_open_tasks(self) -> list[TaskRecord]:
        """Open tasks, by due date (undated last)."""
        query = (
            select(tasks)
            .where(tasks.c.status == "open")
            .order_by(tasks.c.due_at.is_(None), tasks.c.due_at, tasks.c.id)
        )
        return await self._tasks(query)

    # -- job claims -----------------------------------------------------------------------------

    async def claim_job(self, key: str, *, owner: str, now: datetime) -> bool:
        """True only for the one caller (of any replica, ever) that claims `key` first."""
        _aware("now", now)

        async def work(conn: AsyncConnection) -> bool:
            stmt = (
                self._insert(job_runs)
                .values(key=key, claimed_by=owner, claimed_at=now)
                .on_conflict_do_nothing(index_elements=[job_runs.c.key])
                .returning(job_runs.c.key)
            )
            return (await conn.execute(stmt)).first() is not None

        return await self._write(work)

    async def finish_job(self, key: str, *, now: datetime) -> bool:
        """Mark a claimed job finished (False: never claimed)."""
        _aware("now", now)

        async def work(conn: AsyncConnection) -> bool:
            result = await conn.execute(
                job_runs.update()
                .where(job_runs.c.key == key)
                .values(finished_at=now)
                .returning(job_runs.c.key)
            )
            return result.first() is not None

        return await self._write(work)

    async def job_claimed(self, key: str) -> bool:
        async with self._read() as conn:
            found = await conn.execute(select(job_runs.c.key).where(job_runs.c.key == key))
            return found.first() is not None
