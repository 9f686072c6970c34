"""Kept data for the weekly summary, so that none of its figures reads the data in full (issue 14):

- incident_status_counts (status → incidents): kept by every status change; the summary's
  pending and open counts read it instead of the status index of ~half the incidents;
- partners (partner_key → name, incidents, first seen, last incident): kept by incident
  creation; the repeat partners of a week read one row per partner of the week's incidents
  instead of every incident each of them ever had;
- tasks.overdue_after: when a task counts as overdue (the 速報's is counted from awareness and
  skips closed days; others at their due time), taken from the incident's assessment when the
  task is created (filled here from the assessment's recorded moment, else due_at plus the
  built-in playbook's grace); before, the summary approximated it with the grace after due_at;
- tasks.live: the task still runs (its incident is not closed and no later round took it over;
  a checklist item only in the incident's current round), kept by the writes that change it,
  so counting the open deadlines needs no join to incidents;
- deadline_counts (ref, UTC day of due_at, UTC day of overdue_after → running open deadlines):
  kept with tasks.live; the overdue count sums the days before today and reads only today's
  tasks, the upcoming ones are read from the first due day that is not yet overdue;
- tasks (status, kind, live, due_at, overdue_after, ref) instead of (status, kind, due_at, ref,
  incident_id, round): the overdue and upcoming deadline counts from one index range;
- incidents (created_at, status, decided_action, partner_key) instead of (created_at, status,
  decided_action): the week's partners from the index alone.

The backfill is set-based (a few UPDATE / INSERT … SELECT statements, no Python loop).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A task that no longer runs: its incident is closed, or it is of an earlier round and either a
# checklist item or a deadline that a later round re-created (bot/store/tasks.py, LIVE).
_SUPERSEDED = """EXISTS (SELECT 1 FROM tasks later WHERE later.incident_id = {t}.incident_id
    AND later.kind = {t}.kind AND later.ref = {t}.ref AND later.round > {t}.round)"""
_DEAD = "(i.status = 'closed' OR ({t}.round < i.round AND ({t}.kind <> 'deadline' OR " + (
    _SUPERSEDED + ")))"
)

# Where the incident's assessment recorded no overdue-after moment for a deadline: its due time
# plus the grace the built-in playbook gives it (overdue_after_days - days), as the
# follow-through's overdue check (bot/domain/followups.py overdue_moment) falls back to.
_GRACE_DAYS = {"appi_preliminary": 2}
_PG_GRACE = "CASE {cases} ELSE t.due_at END".format(
    cases=" ".join(
        f"WHEN t.kind = 'deadline' AND t.ref = '{ref}' THEN t.due_at + interval '{days} days'"
        for ref, days in _GRACE_DAYS.items()
    )
)
_SQLITE_GRACE = "CASE {cases} ELSE due_at END".format(
    cases=" ".join(
        f"WHEN kind = 'deadline' AND ref = '{ref}' THEN "
        f"strftime('%Y-%m-%d %H:%M:%S', due_at, '+{days} days') || substr(due_at, 20)"
        for ref, days in _GRACE_DAYS.items()
    )
)

# PostgreSQL: one join (hash) over the tasks; the recorded overdue-after moments from the
# assessment's deadlines (ISO text with offset) afterwards, only where there is one.
_PG_FILL = f"""
UPDATE tasks t SET overdue_after = {_PG_GRACE}, live = NOT {_DEAD.format(t="t")}
FROM incidents i WHERE i.id = t.incident_id
"""
_PG_RECORDED = """
UPDATE tasks t SET overdue_after = greatest(t.due_at, r.at)
FROM (
  SELECT i.id, d ->> 'id' AS ref, (d ->> 'overdue_after')::timestamptz AS at
  FROM incidents i,
       json_array_elements(CASE WHEN json_typeof(i.assessment -> 'deadlines') = 'array'
                                THEN i.assessment -> 'deadlines' END) AS d
  WHERE json_typeof(d) = 'object' AND d ->> 'overdue_after' IS NOT NULL
) AS r
WHERE t.incident_id = r.id AND t.ref = r.ref AND t.kind = 'deadline' AND t.due_at IS NOT NULL
"""
# SQLite: correlated lookups by primary key (cheap there); times as the store keeps them, naive
# UTC text with microseconds.
_SQLITE_FILL = f"""
UPDATE tasks SET overdue_after = {_SQLITE_GRACE}, live = NOT EXISTS (
  SELECT 1 FROM incidents i WHERE i.id = tasks.incident_id AND {_DEAD.format(t="tasks")})
"""
_SQLITE_RECORDED = """
UPDATE tasks SET overdue_after = max(due_at, (
  SELECT strftime('%Y-%m-%d %H:%M:%f', json_extract(d.value, '$.overdue_after')) || '000'
  FROM incidents i, json_each(i.assessment, '$.deadlines') AS d
  WHERE i.id = tasks.incident_id AND d.type = 'object'
    AND json_extract(d.value, '$.id') = tasks.ref
    AND json_extract(d.value, '$.overdue_after') IS NOT NULL
  LIMIT 1))
WHERE kind = 'deadline' AND due_at IS NOT NULL AND EXISTS (
  SELECT 1 FROM incidents i, json_each(i.assessment, '$.deadlines') AS d
  WHERE i.id = tasks.incident_id AND d.type = 'object'
    AND json_extract(d.value, '$.id') = tasks.ref
    AND json_extract(d.value, '$.overdue_after') IS NOT NULL)
"""
# The running open deadlines per ref and UTC day of due_at and of overdue_after.
_DEADLINE_COUNTS = """
INSERT INTO deadline_counts (ref, due_day, overdue_day, open)
SELECT ref, {due_day}, {overdue_day}, count(*) FROM tasks
WHERE status = 'open' AND kind = 'deadline' AND live AND due_at IS NOT NULL
GROUP BY ref, {due_day}, {overdue_day}
"""
_PG_DAY = "(({column}) AT TIME ZONE 'UTC')::date"
_SQLITE_DAY = "substr({column}, 1, 10)"  # naive UTC text 'YYYY-MM-DD HH:MM:SS.ffffff'
_PARTNERS = """
INSERT INTO partners (partner_key, partner, incidents, first_seen, last_incident_at)
SELECT partner_key, max(partner), count(*), min(created_at), max(created_at)
FROM incidents GROUP BY partner_key
"""


_STATUSES = ("pending", "decided", "rejected", "closed")


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "partners",
        sa.Column("partner_key", sa.Text(), nullable=False),
        sa.Column("partner", sa.Text(), nullable=False),
        sa.Column("incidents", sa.Integer(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_incident_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("partner_key", name="pk_partners"),
    )
    op.execute(_PARTNERS)
    op.create_table(
        "incident_status_counts",
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("incidents", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("status", name="pk_incident_status_counts"),
    )
    for status in _STATUSES:  # a row for every status, from its (status, created_at) index
        op.execute(
            "INSERT INTO incident_status_counts (status, incidents) "
            f"SELECT '{status}', count(*) FROM incidents WHERE status = '{status}'"
        )
    # The old index goes before the backfill (not maintained through it), the new one after.
    op.drop_index("ix_tasks_status_kind_due_at", table_name="tasks")
    op.add_column("tasks", sa.Column("overdue_after", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "tasks", sa.Column("live", sa.Boolean(), server_default=sa.true(), nullable=False)
    )
    op.execute(_PG_FILL if postgres else _SQLITE_FILL)
    op.execute(_PG_RECORDED if postgres else _SQLITE_RECORDED)
    op.create_table(
        "deadline_counts",
        sa.Column("ref", sa.String(128), nullable=False),
        sa.Column("due_day", sa.Date(), nullable=False),
        sa.Column("overdue_day", sa.Date(), nullable=False),
        sa.Column("open", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("ref", "due_day", "overdue_day", name="pk_deadline_counts"),
    )
    day = _PG_DAY if postgres else _SQLITE_DAY
    op.execute(
        _DEADLINE_COUNTS.format(
            due_day=day.format(column="due_at"), overdue_day=day.format(column="overdue_after")
        )
    )
    op.create_index(
        "ix_tasks_status_kind_live_due_at",
        "tasks",
        ["status", "kind", "live", "due_at", "overdue_after", "ref"],
    )
    op.drop_index("ix_incidents_created_at_status", table_name="incidents")
    op.create_index(
        "ix_incidents_created_at_status",
        "incidents",
        ["created_at", "status", "decided_action", "partner_key"],
    )


def downgrade() -> None:
    op.drop_index("ix_incidents_created_at_status", table_name="incidents")
    op.create_index(
        "ix_incidents_created_at_status", "incidents", ["created_at", "status", "decided_action"]
    )
    op.drop_index("ix_tasks_status_kind_live_due_at", table_name="tasks")
    op.drop_table("deadline_counts")
    op.drop_column("tasks", "live")
    op.drop_column("tasks", "overdue_after")
    op.create_index(
        "ix_tasks_status_kind_due_at",
        "tasks",
        ["status", "kind", "due_at", "ref", "incident_id", "round"],
    )
    op.drop_table("incident_status_counts")
    op.drop_table("partners")
