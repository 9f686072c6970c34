"""The schema as SQLAlchemy Core tables (the migrations in `migrations/versions` create it).

Times are `UTCDateTime`: aware UTC datetimes in and out on both databases (SQLite stores them as
naive UTC text with microseconds, which sorts correctly; a naive datetime is refused on the way in).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.types import TypeDecorator

__all__ = [
    "HOUR_COUNT_CATEGORIES",
    "INCIDENT_STATUSES",
    "OUTBOX_STATUSES",
    "TASK_KINDS",
    "TASK_STATUSES",
    "UTCDateTime",
    "approvals",
    "audit_log",
    "deadline_counts",
    "decision_hour_counts",
    "home_viewers",
    "incident_closures",
    "incident_counters",
    "incident_hour_counts",
    "incident_status_counts",
    "incident_viewers",
    "incidents",
    "job_runs",
    "metadata",
    "outbox",
    "partner_status_counts",
    "partners",
    "processed_events",
    "reporter_status_counts",
    "tasks",
]

INCIDENT_STATUSES: Final[tuple[str, ...]] = ("pending", "decided", "rejected", "closed")
OUTBOX_STATUSES: Final[tuple[str, ...]] = ("pending", "sent", "dead")
TASK_KINDS: Final[tuple[str, ...]] = ("deadline", "checklist")
TASK_STATUSES: Final[tuple[str, ...]] = ("open", "done")

NAMING_CONVENTION: Final[dict[str, str]] = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """`DateTime(timezone=True)` that only accepts aware datetimes and always returns aware UTC."""

    impl = DateTime
    cache_ok = True

    def __init__(self) -> None:
        super().__init__(timezone=True)

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                f"naive datetime {value.isoformat()} (the store needs aware UTC times)"
            )
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {type(value).__name__}")
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _json(nullable: bool = False) -> JSON:
    # none_as_null: Python None is SQL NULL (not the JSON literal null) in nullable columns.
    return JSON(none_as_null=nullable)


# 64-bit ids on PostgreSQL; on SQLite only INTEGER PRIMARY KEY is the auto-incrementing rowid.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _sqlite_autoincrement(table: Table, connection: Connection, **_kw: Any) -> None:
    """On SQLite the table is created with AUTOINCREMENT (ids are never reused), as the
    migrations create it. Set when the table is created rather than as `sqlite_autoincrement=True`
    in `Table(...)`: SQLAlchemy imports a dialect to check its keywords, and PostgreSQL's
    `leakbot run` would load the SQLite dialect for nothing (~0.5 MB RSS)."""
    if connection.dialect.name == "sqlite":
        table.dialect_options["sqlite"]["autoincrement"] = True


# Table(..., listeners=SQLITE_AUTOINCREMENT): see _sqlite_autoincrement.
SQLITE_AUTOINCREMENT: Final = [("before_create", _sqlite_autoincrement)]


incident_counters = Table(
    "incident_counters",
    metadata,
    Column("year", Integer, primary_key=True, autoincrement=False),
    Column("last_seq", Integer, nullable=False),
)

incidents = Table(
    "incidents",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("year", Integer, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("partner", Text, nullable=False),
    Column("partner_key", Text, nullable=False),
    Column("reporter_id", String(64), nullable=False),
    Column("team_id", String(64), nullable=True),
    Column("locale", String(16), nullable=False),
    Column("answers", _json(), nullable=False),
    Column("assessment", _json(), nullable=False),
    Column("recommendation", String(64), nullable=False),
    Column("round", Integer, nullable=False, server_default="1"),
    Column("decided_action", String(64), nullable=True),
    Column("decided_by", _json(nullable=True), nullable=True),
    Column("decided_at", UTCDateTime(), nullable=True),
    Column("decision_reason", Text, nullable=True),
    Column("channel_id", String(64), nullable=True),
    Column("message_ts", String(64), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("submission_key", String(255), nullable=True),
    # When the pending incident's next escalation step falls due (NULL: none left); set to
    # "look now" by the store when it (re)enters pending or its assessment changes, moved on by
    # the follow-through's minute pass (migration 0011).
    Column("next_escalation_at", UTCDateTime(), nullable=True),
    UniqueConstraint("submission_key"),
    UniqueConstraint("year", "seq"),
    CheckConstraint(_in("status", INCIDENT_STATUSES), name="status"),
    CheckConstraint("round >= 1", name="round"),
    Index("ix_incidents_status_created_at", "status", "created_at"),
    Index(
        "ix_incidents_created_at_status",
        "created_at",
        "status",
        "decided_action",
        "partner_key",
    ),
    Index(
        "ix_incidents_decided_at_status",
        "decided_at",
        "status",
        "decided_action",
        "recommendation",
        "created_at",
    ),
    Index("ix_incidents_partner_key_partner", "partner_key", "partner"),
    Index("ix_incidents_id_status_round", "id", "status", "round"),
    Index("ix_incidents_status_next_escalation_at", "status", "next_escalation_at", "id"),
    # Issue 14 (migration 0007): a reporter's incidents per status newest first (`/leak list`,
    # App Home), and the incidents of a few partners per status (`/leak list PARTNER`).
    # With the id: the page's ids come from the index alone, in its order.
    # Migration 0009: with the partner, so that a reporter's partner filter reads the index.
    Index(
        "ix_incidents_reporter_id_status",
        "reporter_id",
        "status",
        "created_at",
        "id",
        "partner_key",
        "partner",
    ),
    Index("ix_incidents_partner_status_created_at", "partner", "status", "created_at", "id"),
)

# Issue 14 (migration 0007): how many incidents there are per reporter and status, and per
# partner spelling and status, kept by triggers on `incidents` in the same transaction as the
# change (bot/store/counts.py): the totals `/leak list` and App Home show are read from a few
# rows, never counted over the incidents.
reporter_status_counts = Table(
    "reporter_status_counts",
    metadata,
    Column("reporter_id", String(64), primary_key=True),
    Column("status", String(16), primary_key=True),
    Column("n", Integer, nullable=False),
)

# Issue 14 (migration 0007): who may see an incident besides the approvers — its reporter and
# its tasks' owners — with the incident's status and creation time, kept by triggers on
# `incidents` and `tasks`: a person's App Home lists and counts read their own rows by index.
incident_viewers = Table(
    "incident_viewers",
    metadata,
    Column("user_id", String(64), primary_key=True),
    Column("incident_id", String(32), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    # Migration 0009: the incident's decided_at when it has a decided_action (else NULL), so
    # that a person's "decided this week" reads their own index entries, not their incidents.
    Column("decided_at", UTCDateTime(), nullable=True),
    Index("ix_incident_viewers_user_id_status", "user_id", "status", "created_at", "incident_id"),
    Index("ix_incident_viewers_incident_id", "incident_id"),
    Index("ix_incident_viewers_user_id_decided_at", "user_id", "decided_at"),
)

partner_status_counts = Table(
    "partner_status_counts",
    metadata,
    Column("partner", Text, primary_key=True),
    Column("partner_key", Text, primary_key=True),
    Column("status", String(16), primary_key=True),
    Column("n", Integer, nullable=False),
)

approvals = Table(
    "approvals",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("incident_id", String(32), ForeignKey("incidents.id"), nullable=False),
    Column("round", Integer, nullable=False),
    Column("approver_id", String(64), nullable=False),
    Column("action", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("incident_id", "round", "approver_id"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("incident_id", String(32), ForeignKey("incidents.id"), nullable=True),
    Column("actor_id", String(64), nullable=False),
    Column("action", String(64), nullable=False),
    Column("before", _json(nullable=True), nullable=True),
    Column("after", _json(nullable=True), nullable=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    UniqueConstraint("hash"),
    Index("ix_audit_log_incident_id", "incident_id"),
    listeners=SQLITE_AUTOINCREMENT,
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("incident_id", String(32), ForeignKey("incidents.id"), nullable=True),
    Column("kind", String(64), nullable=False),
    Column("method", String(128), nullable=False),
    Column("payload", _json(), nullable=False),
    Column("dedupe_key", String(255), nullable=True),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UTCDateTime(), nullable=False),
    Column("lease_until", UTCDateTime(), nullable=True),
    Column("leased_by", String(128), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("sent_at", UTCDateTime(), nullable=True),
    Column("result", _json(nullable=True), nullable=True),
    Column("last_error", Text, nullable=True),
    UniqueConstraint("dedupe_key"),
    CheckConstraint(_in("status", OUTBOX_STATUSES), name="status"),
    Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),
    Index("ix_outbox_incident_id_status", "incident_id", "status", "id"),
    listeners=SQLITE_AUTOINCREMENT,
)

processed_events = Table(
    "processed_events",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("at", UTCDateTime(), nullable=False),
    Index("ix_processed_events_at", "at"),
)

tasks = Table(
    "tasks",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("incident_id", String(32), ForeignKey("incidents.id"), nullable=False),
    Column("round", Integer, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("ref", String(128), nullable=False),
    Column("title", _json(), nullable=False),
    Column("owner_id", String(64), nullable=True),
    Column("due_at", UTCDateTime(), nullable=True),
    Column("status", String(16), nullable=False),
    Column("done_by", String(64), nullable=True),
    Column("done_at", UTCDateTime(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    # When it counts as overdue (>= due_at; the 速報's is counted from awareness and skips
    # closed days), and whether it still runs: its incident is not closed and no later round
    # took it over (a checklist item: of the incident's current round). Kept by every write
    # that changes them (bot/store/tasks.py refresh_live; migration 0006 filled them).
    Column("overdue_after", UTCDateTime(), nullable=True),
    Column("live", Boolean, nullable=False, server_default=true()),
    # The open task's next reminder stage or overdue moment (NULL: none left, or no due time);
    # "look now" when it is created or its due time moves, moved on by the follow-through's
    # minute pass (migration 0011).
    Column("next_attention_at", UTCDateTime(), nullable=True),
    UniqueConstraint("incident_id", "round", "kind", "ref"),
    CheckConstraint(_in("kind", TASK_KINDS), name="kind"),
    CheckConstraint(_in("status", TASK_STATUSES), name="status"),
    Index("ix_tasks_status_due_at", "status", "due_at"),
    Index(
        "ix_tasks_status_kind_live_due_at",
        "status",
        "kind",
        "live",
        "due_at",
        "overdue_after",
        "ref",
    ),
    Index("ix_tasks_owner_id_status", "owner_id", "status", "due_at"),
    Index("ix_tasks_status_live_next_attention_at", "status", "live", "next_attention_at", "id"),
)

job_runs = Table(
    "job_runs",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("claimed_by", String(128), nullable=False),
    Column("claimed_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime(), nullable=True),
)

# Who looked at their App Home tab lately (and whether they were an approver then): only their
# tabs are published again when something changes; anyone else gets a fresh one when they open it.
home_viewers = Table(
    "home_viewers",
    metadata,
    Column("user_id", String(64), primary_key=True),
    Column("opened_at", UTCDateTime(), nullable=False),
    Column("approver", Boolean, nullable=False),
    Index("ix_home_viewers_approver_opened_at", "approver", "opened_at"),
)

# Issue 12: how an incident was closed (migration 0005); a reopen fills reopened_*.
incident_closures = Table(
    "incident_closures",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("incident_id", String(32), ForeignKey("incidents.id"), nullable=False),
    Column("round", Integer, nullable=False),
    Column("outcome", String(32), nullable=False),
    Column("note", Text, nullable=True),
    Column("regulator", _json(), nullable=False),
    Column("closed_by", String(64), nullable=False),
    Column("closed_at", UTCDateTime(), nullable=False),
    Column("reopened_by", String(64), nullable=True),
    Column("reopened_at", UTCDateTime(), nullable=True),
    Index("ix_incident_closures_incident_id", "incident_id", "id"),
)

# Issue 14: every partner (by its normalised key) with how many incidents it has had, kept by
# incident creation in the same transaction (migration 0006 filled it), so that the weekly
# summary's repeat partners read one row per partner, not every incident of each.
partners = Table(
    "partners",
    metadata,
    Column("partner_key", Text, primary_key=True),
    # The name shown: the greatest of the names its incidents gave (as max(partner) did).
    Column("partner", Text, nullable=False),
    Column("incidents", Integer, nullable=False),
    Column("first_seen", UTCDateTime(), nullable=False),
    Column("last_incident_at", UTCDateTime(), nullable=False),
)

# Issue 14: how many incidents have each status, kept by every status change in the same
# transaction (bot/store/incidents.py; migration 0006 filled it): the weekly summary's pending
# and open counts read two rows, not the (status, created_at) index of ~half of all incidents.
incident_status_counts = Table(
    "incident_status_counts",
    metadata,
    Column("status", String(16), primary_key=True),
    Column("incidents", Integer, nullable=False),
)

# Issue 14: the running open deadlines (tasks: status open, kind deadline, live) counted per ref
# and UTC day of their due time and of their overdue-after moment, kept by every write that
# changes one (bot/store/tasks.py refresh_kept; migration 0006 filled it). The weekly summary
# sums the days before today and reads only today's and the coming week's tasks.
deadline_counts = Table(
    "deadline_counts",
    metadata,
    Column("ref", String(128), primary_key=True),
    Column("due_day", Date, primary_key=True),
    Column("overdue_day", Date, primary_key=True),
    Column("open", Integer, nullable=False),
)

# Issue 14 (migration 0008): incidents per UTC hour of creation and chart category (the five
# actions, "rejected", "undecided": bot.domain.chart.category), one column each, kept by
# triggers on `incidents`: the weekly chart's 12 weeks and a week's "opened" count read one row
# per hour instead of every incident of those weeks.
HOUR_COUNT_CATEGORIES: Final[tuple[str, ...]] = (
    "continue_unchanged",
    "continue_with_concern",
    "request_report",
    "consider_suspension",
    "suspend_and_legal",
    "rejected",
    "undecided",
)
incident_hour_counts = Table(
    "incident_hour_counts",
    metadata,
    Column("hour", UTCDateTime(), primary_key=True),
    *(Column(name, Integer, nullable=False) for name in HOUR_COUNT_CATEGORIES),
)

# Issue 14 (migration 0008): the decisions (incidents with status "decided") per UTC hour of
# decided_at, decided action ("" for none) and whether it followed the recommendation (1/0),
# kept by triggers on `incidents`: the summary's decisions by action and their total.
decision_hour_counts = Table(
    "decision_hour_counts",
    metadata,
    Column("hour", UTCDateTime(), primary_key=True),
    Column("decided_action", String(64), primary_key=True),
    Column("followed", Integer, primary_key=True, autoincrement=False),
    Column("n", Integer, nullable=False),
)
