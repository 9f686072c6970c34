"""Repair `tasks.live` and `deadline_counts` after a bug in the app's refresh (0006 to 0009).

The refresh that keeps `tasks.live` (bot/store/tasks.py `refresh_kept`) tested "a later round
re-created this deadline" with an EXISTS that was not tied to the task being updated: inside
the UPDATE it read `FROM tasks AS later, tasks`, so once any incident anywhere had a later
round re-create a deadline, every earlier-round deadline of an incident that got a new round
was marked as no longer running — its legal clock then left the weekly summary's overdue and
upcoming counts and the person's App Home, though no later round had replaced it.

This recomputes `live` for the only tasks it could be wrong for (earlier-round tasks of their
incident: the current round's were always right), with the rule 0006 filled it with, and
rebuilds `deadline_counts` (running open deadlines per ref and UTC day of due_at and of
overdue_after) from the tasks. No schema change; the downgrade leaves the repaired data.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As 0006 (bot/store/tasks.py `live_condition`): a task runs while its incident is not closed
# and it is of the current round, or a deadline of an earlier round no later round re-created.
_SUPERSEDED = """EXISTS (SELECT 1 FROM tasks later WHERE later.incident_id = {t}.incident_id
    AND later.kind = {t}.kind AND later.ref = {t}.ref AND later.round > {t}.round)"""
_RUNS = "(i.status <> 'closed' AND ({t}.round >= i.round OR ({t}.kind = 'deadline' AND NOT " + (
    _SUPERSEDED + ")))"
)
_PG_REPAIR = f"""
UPDATE tasks t SET live = {_RUNS.format(t="t")}
FROM incidents i
WHERE i.id = t.incident_id AND t.round < i.round AND t.live IS DISTINCT FROM {_RUNS.format(t="t")}
"""
_SQLITE_REPAIR = f"""
UPDATE tasks SET live = (
  SELECT {_RUNS.format(t="tasks")} FROM incidents i WHERE i.id = tasks.incident_id)
WHERE EXISTS (
  SELECT 1 FROM incidents i WHERE i.id = tasks.incident_id AND tasks.round < i.round
    AND tasks.live IS NOT {_RUNS.format(t="tasks")})
"""
_DEADLINE_COUNTS = """
INSERT INTO deadline_counts (ref, due_day, overdue_day, open)
SELECT ref, {due_day}, {overdue_day}, count(*) FROM tasks
WHERE status = 'open' AND kind = 'deadline' AND live AND due_at IS NOT NULL
GROUP BY ref, {due_day}, {overdue_day}
"""
_PG_DAY = "(({column}) AT TIME ZONE 'UTC')::date"
_SQLITE_DAY = "substr({column}, 1, 10)"  # naive UTC text 'YYYY-MM-DD HH:MM:SS.ffffff'


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        # As 0007: no writer moves a count while the counts are rebuilt.
        op.execute("LOCK TABLE tasks, deadline_counts IN SHARE ROW EXCLUSIVE MODE")
    op.execute(_PG_REPAIR if postgres else _SQLITE_REPAIR)
    op.execute("DELETE FROM deadline_counts")
    day = _PG_DAY if postgres else _SQLITE_DAY
    op.execute(
        _DEADLINE_COUNTS.format(
            due_day=day.format(column="due_at"), overdue_day=day.format(column="overdue_after")
        )
    )


def downgrade() -> None:
    """Nothing to undo: the repaired values are what 0006's rule gives."""
