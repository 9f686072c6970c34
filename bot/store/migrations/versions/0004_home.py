"""The App Home tab: who looked at it lately, and an index for a person's open tasks.

- home_viewers (user_id, opened_at, approver): only the tabs of people who opened theirs lately
  are published again after a change (bot/notifications.py, `home_messages`);
- tasks (owner_id, status, due_at): the tab lists and counts the person's open tasks, earliest
  due first, and finds the incidents a non-approver may see through their tasks.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_tasks_owner_id_status", "tasks", ["owner_id", "status", "due_at"])
    op.create_table(
        "home_viewers",
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approver", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="pk_home_viewers"),
    )
    op.create_index("ix_home_viewers_approver_opened_at", "home_viewers", ["approver", "opened_at"])


def downgrade() -> None:
    op.drop_index("ix_home_viewers_approver_opened_at", table_name="home_viewers")
    op.drop_table("home_viewers")
    op.drop_index("ix_tasks_owner_id_status", table_name="tasks")
