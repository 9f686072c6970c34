"""When the follow-through's minute pass must next look at an incident or a task (issue 14).

The pass (bot/followthrough.py `FollowThrough.run`) read up to 10,000 pending incidents and every
open task due before the reminder horizon every minute, and re-wrote every escalation step
already due (deduplicated to nothing): ~30 s of CPU per minute at 100,000 incidents, and the
pending incidents beyond the first 10,000 never escalated.

- `incidents.next_escalation_at`: when the pending incident's next escalation step falls due;
  NULL once no step is left. Indexed with the status, so a pass reads the due ones only.
- `tasks.next_attention_at`: the open task's next reminder stage or overdue moment; NULL once
  none is left (or without a due time). Indexed with the status and `live`.

The store sets both to "look now" (the change's time) when what they depend on changes — an
incident (re)enters `pending` or gets a new round or assessment, a task is created or its due
time moves — and the pass sets the next moment from the playbook (bot/domain/followups.py).

Backfill: "look now" for every pending incident (its creation time) and every open task with a
due time (its creation time): the first pass after the upgrade looks at each once, in batches,
and from then on only at what falls due. What it sends then is documented in
docs/architecture.md ("The follow-through's minute pass"): an incident whose escalation was
starved gets its latest due step only, once, audited with the steps it overtook.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "incidents", sa.Column("next_escalation_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "tasks", sa.Column("next_attention_at", sa.DateTime(timezone=True), nullable=True)
    )
    # Before the indexes (not maintained through the backfill); both databases store the
    # creation time as the column does (SQLite: the same naive UTC text).
    op.execute("UPDATE incidents SET next_escalation_at = created_at WHERE status = 'pending'")
    op.execute(
        "UPDATE tasks SET next_attention_at = created_at "
        "WHERE status = 'open' AND due_at IS NOT NULL"
    )
    op.create_index(
        "ix_incidents_status_next_escalation_at",
        "incidents",
        ["status", "next_escalation_at", "id"],
    )
    op.create_index(
        "ix_tasks_status_live_next_attention_at",
        "tasks",
        ["status", "live", "next_attention_at", "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_tasks_status_live_next_attention_at", table_name="tasks")
    op.drop_index("ix_incidents_status_next_escalation_at", table_name="incidents")
    op.drop_column("tasks", "next_attention_at")
    op.drop_column("incidents", "next_escalation_at")
