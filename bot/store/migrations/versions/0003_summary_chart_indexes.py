"""Covering indexes for the weekly summary's decision figures and chart (bench/summary_scale.py).

- incidents (decided_at, status, decided_action, recommendation, created_at) instead of
  (decided_at): the week's decisions are counted, grouped by action and by "as recommended",
  and their median time to decision found from the index alone (no incident row per decision);
- incidents (created_at, status, decided_action) instead of (created_at): the 12-week chart's
  counts per week, action and status come from the index alone; it still serves every range
  and order on created_at the old one did.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_incidents_decided_at_status",
        "incidents",
        ["decided_at", "status", "decided_action", "recommendation", "created_at"],
    )
    op.drop_index("ix_incidents_decided_at", table_name="incidents")
    op.create_index(
        "ix_incidents_created_at_status", "incidents", ["created_at", "status", "decided_action"]
    )
    op.drop_index("ix_incidents_created_at", table_name="incidents")


def downgrade() -> None:
    op.create_index("ix_incidents_created_at", "incidents", ["created_at"])
    op.drop_index("ix_incidents_created_at_status", table_name="incidents")
    op.create_index("ix_incidents_decided_at", "incidents", ["decided_at"])
    op.drop_index("ix_incidents_decided_at_status", table_name="incidents")
