"""leakbot's storage: SQLAlchemy Core (async) on SQLite or PostgreSQL, migrated on open.

The rest of the app uses only `Store` and the records below; there is no SQL outside this package.
"""

from __future__ import annotations

from .records import (
    GENESIS_HASH,
    ApprovalOutcome,
    ApprovalOutcomeKind,
    ApprovalRecord,
    AuditProblem,
    AuditRecord,
    IncidentNotFound,
    IncidentRecord,
    IncidentStatus,
    MigrationStatus,
    NewIncident,
    NewTask,
    OutboxItem,
    OutboxMessage,
    OutboxStatus,
    TaskDue,
    TaskKind,
    TaskOutcome,
    TaskRecord,
    TaskStatus,
    format_incident_id,
)
from .repository import SYSTEM_ACTOR, OutboxSpec, Store, audit_hash, canonical_json
from .urls import DEFAULT_DATABASE_URL, display_url, resolve_database_url

__all__ = [
    "DEFAULT_DATABASE_URL",
    "GENESIS_HASH",
    "SYSTEM_ACTOR",
    "ApprovalOutcome",
    "ApprovalOutcomeKind",
    "ApprovalRecord",
    "AuditProblem",
    "AuditRecord",
    "IncidentNotFound",
    "IncidentRecord",
    "IncidentStatus",
    "MigrationStatus",
    "NewIncident",
    "NewTask",
    "OutboxItem",
    "OutboxMessage",
    "OutboxSpec",
    "OutboxStatus",
    "Store",
    "TaskDue",
    "TaskKind",
    "TaskOutcome",
    "TaskRecord",
    "TaskStatus",
    "audit_hash",
    "canonical_json",
    "display_url",
    "format_incident_id",
    "resolve_database_url",
]
