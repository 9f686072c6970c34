"""Indexes for the weekly summary at a million incidents (bench/summary_scale.py).

- tasks (status, kind, due_at, ref, incident_id, round): the overdue and upcoming deadline
  counts read the index alone (no task row per open deadline);
- incidents (id, status, round): the join from those tasks to their incident's status and round
  is an index-only lookup on PostgreSQL;
- incidents (partner_key, partner) instead of (partner_key): the repeat-partner counts and
  names come from the index (it still serves lookups by partner_key).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_tasks_status_kind_due_at",
        "tasks",
        ["status", "kind", "due_at", "ref", "incident_id", "round"],
    )
    op.create_index("ix_incidents_id_status_round", "incidents", ["id", "status", "round"])
    op.create_index("ix_incidents_partner_key_partner", "incidents", ["partner_key", "partner"])
    op.drop_index("ix_incidents_partner_key", table_name="incidents")


def downgrade() -> None:
    op.create_index("ix_incidents_partner_key", "incidents", ["partner_key"])
    op.drop_index("ix_incidents_partner_key_partner", table_name="incidents")
    op.drop_index("ix_incidents_id_status_round", table_name="incidents")
    op.drop_index("ix_tasks_status_kind_due_at", table_name="tasks")
