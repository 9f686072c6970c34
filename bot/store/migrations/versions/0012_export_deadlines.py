"""`leakbot export` on PostgreSQL: each incident's deadline tasks from one index (issue 14).

The export's statements (bot/store/export.py `csv_lines_sql`, `json_lines_sql`) read per incident
its deadline tasks, the latest round's per ref in "C" order (`DISTINCT ON (ref COLLATE "C")` …
`ORDER BY ref COLLATE "C", round DESC`). Through the unique (incident_id, round, kind, ref)
index that was an index scan, a heap fetch per task and a sort per incident. This partial index
holds the deadline tasks in that order with every column the statements read: an index-only
scan, no sort (~2-4 µs less server CPU per exported incident at 100,000, bench/README.md).

PostgreSQL only: SQLite has no "C" collation by that name, its export reads the tasks otherwise,
and an index there would add to every task write on the database whose approval click is
closest to its CPU budget. tables.py does not declare it (as the PostgreSQL-only triggers);
tests/store/test_store_migrations.py names it.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_tasks_deadline_export"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        f'CREATE INDEX {INDEX} ON tasks (incident_id, ref COLLATE "C", round DESC) '
        "INCLUDE (due_at, status, done_at, owner_id) WHERE kind = 'deadline'"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {INDEX}")
