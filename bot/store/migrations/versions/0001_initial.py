"""Initial schema: incidents, approvals, audit trail, outbox, events, tasks, job claims.

Revision ID: 0001
Revises:
Create Date: 2026-05-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _ts(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _json(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.JSON(none_as_null=nullable), nullable=nullable)


PG_APPEND_ONLY = """
CREATE FUNCTION leakbot_audit_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "incident_counters",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("year", name="pk_incident_counters"),
    )
    op.create_table(
        "incidents",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("partner", sa.Text(), nullable=False),
        sa.Column("partner_key", sa.Text(), nullable=False),
        sa.Column("reporter_id", sa.String(64), nullable=False),
        sa.Column("team_id", sa.String(64), nullable=True),
        sa.Column("locale", sa.String(16), nullable=False),
        _json("answers"),
        _json("assessment"),
        sa.Column("recommendation", sa.String(64), nullable=False),
        sa.Column("round", sa.Integer(), server_default="1", nullable=False),
        sa.Column("decided_action", sa.String(64), nullable=True),
        _json("decided_by", nullable=True),
        _ts("decided_at", nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("channel_id", sa.String(64), nullable=True),
        sa.Column("message_ts", sa.String(64), nullable=True),
        _ts("created_at"),
        _ts("updated_at"),
        sa.Column("submission_key", sa.String(255), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_incidents"),
        sa.UniqueConstraint("submission_key", name="uq_incidents_submission_key"),
        sa.UniqueConstraint("year", "seq", name="uq_incidents_year_seq"),
        sa.CheckConstraint(
            "status IN ('pending', 'decided', 'rejected', 'closed')", name="ck_incidents_status"
        ),
        sa.CheckConstraint("round >= 1", name="ck_incidents_round"),
    )
    op.create_index("ix_incidents_status_created_at", "incidents", ["status", "created_at"])
    op.create_index("ix_incidents_created_at", "incidents", ["created_at"])
    op.create_index("ix_incidents_decided_at", "incidents", ["decided_at"])
    op.create_index("ix_incidents_partner_key", "incidents", ["partner_key"])
    op.create_index("ix_incidents_reporter_id", "incidents", ["reporter_id"])

    op.create_table(
        "approvals",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.String(32), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("approver_id", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_approvals"),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name="fk_approvals_incident_id_incidents"
        ),
        sa.UniqueConstraint(
            "incident_id", "round", "approver_id", name="uq_approvals_incident_id_round_approver_id"
        ),
    )

    op.create_table(
        "audit_log",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.String(32), nullable=True),
        sa.Column("actor_id", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        _json("before", nullable=True),
        _json("after", nullable=True),
        _ts("at"),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name="fk_audit_log_incident_id_incidents"
        ),
        sa.UniqueConstraint("hash", name="uq_audit_log_hash"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_audit_log_incident_id", "audit_log", ["incident_id"])

    op.create_table(
        "outbox",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.String(32), nullable=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("method", sa.String(128), nullable=False),
        _json("payload"),
        sa.Column("dedupe_key", sa.String(255), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        _ts("next_attempt_at"),
        _ts("lease_until", nullable=True),
        sa.Column("leased_by", sa.String(128), nullable=True),
        _ts("created_at"),
        _ts("sent_at", nullable=True),
        _json("result", nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name="fk_outbox_incident_id_incidents"
        ),
        sa.UniqueConstraint("dedupe_key", name="uq_outbox_dedupe_key"),
        sa.CheckConstraint("status IN ('pending', 'sent', 'dead')", name="ck_outbox_status"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_outbox_status_next_attempt_at", "outbox", ["status", "next_attempt_at"])
    op.create_index("ix_outbox_incident_id_status", "outbox", ["incident_id", "status", "id"])

    op.create_table(
        "processed_events",
        sa.Column("key", sa.String(255), nullable=False),
        _ts("at"),
        sa.PrimaryKeyConstraint("key", name="pk_processed_events"),
    )
    op.create_index("ix_processed_events_at", "processed_events", ["at"])

    op.create_table(
        "tasks",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.String(32), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("ref", sa.String(128), nullable=False),
        _json("title"),
        sa.Column("owner_id", sa.String(64), nullable=True),
        _ts("due_at", nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("done_by", sa.String(64), nullable=True),
        _ts("done_at", nullable=True),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_tasks"),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name="fk_tasks_incident_id_incidents"
        ),
        sa.UniqueConstraint(
            "incident_id", "round", "kind", "ref", name="uq_tasks_incident_id_round_kind_ref"
        ),
        sa.CheckConstraint("kind IN ('deadline', 'checklist')", name="ck_tasks_kind"),
        sa.CheckConstraint("status IN ('open', 'done')", name="ck_tasks_status"),
    )
    op.create_index("ix_tasks_status_due_at", "tasks", ["status", "due_at"])

    op.create_table(
        "job_runs",
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("claimed_by", sa.String(128), nullable=False),
        _ts("claimed_at"),
        _ts("finished_at", nullable=True),
        sa.PrimaryKeyConstraint("key", name="pk_job_runs"),
    )

    # The audit trail is append-only for everyone, the store included (defence in depth: the
    # hash chain already makes a change visible to verify_audit_chain()).
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_APPEND_ONLY)
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION leakbot_audit_log_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION leakbot_audit_log_append_only()"
        )
    else:
        op.execute(
            "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
            "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
        )
        op.execute(
            "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
            "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS leakbot_audit_log_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    for table in ("job_runs", "tasks", "processed_events", "outbox", "audit_log", "approvals"):
        op.drop_table(table)
    op.drop_table("incidents")
    op.drop_table("incident_counters")
