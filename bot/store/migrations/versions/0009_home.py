"""When each incident a person may see was decided, kept beside their `incident_viewers` row
(issue 14, App Home at a million incidents).

A person's "decided this week" on their App Home counted their viewer rows joined to the
incidents (`decided_at` in the week, with a decided action): one incident row read per
incident they reported or own a task of — 2,500 random reads for a reporter at 1M, 25 ms on
SQLite, growing with their history. `incident_viewers.decided_at` holds the incident's
`decided_at` when it has a `decided_action` (NULL otherwise), and (user_id, decided_at) is
indexed: the count reads the week's few entries of one person.

Kept by the viewer triggers of migration 0007, redefined here: a row added for a reporter or a
task owner takes it from the incident, and a change of the incident's status, decided time or
decided action updates its rows (one UPDATE for both, as a decision changes both).
Backfilled with one UPDATE … FROM. The downgrade puts 0007's triggers back.

Also `/leak list PARTNER` for a reporter: their count (and page) tested the partner on each of
their incident rows (1,200 random reads for a reporter's open incidents at 1M); the index on
(reporter_id, status, created_at, id) now ends with (partner_key, partner), so the test reads
the index alone.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What `incident_viewers.decided_at` holds for an incident row `row`.
_DECIDED = "CASE WHEN {row}.decided_action IS NOT NULL THEN {row}.decided_at END"

_VIEWER_ADD = f"""
    INSERT INTO incident_viewers (user_id, incident_id, status, created_at, decided_at)
    SELECT {{user}}, id, status, created_at, {_DECIDED.format(row="incidents")}
    FROM incidents WHERE id = {{incident}}
    ON CONFLICT (user_id, incident_id) DO NOTHING;"""
# As 0007's: `user` no longer reports the incident nor owns one of its tasks.
_VIEWER_REMOVE = """
    DELETE FROM incident_viewers WHERE user_id = {user} AND incident_id = {incident}
    AND NOT EXISTS (SELECT 1 FROM tasks WHERE tasks.incident_id = {incident}
                    AND tasks.owner_id = {user})
    AND NOT EXISTS (SELECT 1 FROM incidents WHERE incidents.id = {incident}
                    AND incidents.reporter_id = {user});"""
_VIEWER_STATE = f"""
    UPDATE incident_viewers SET status = NEW.status, decided_at = {_DECIDED.format(row="NEW")}
    WHERE incident_id = NEW.id;"""
# The incident columns whose change reaches its viewer rows (besides reporter_id).
_STATE = ("status", "decided_at", "decided_action")


def _state_changed(distinct: str) -> str:
    return " OR ".join(f"OLD.{c} {distinct} NEW.{c}" for c in _STATE)


PG_VIEWERS_INCIDENTS = f"""
CREATE FUNCTION leakbot_incident_viewers_incidents() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {_VIEWER_ADD.format(user="NEW.reporter_id", incident="NEW.id")}
    ELSIF TG_OP = 'DELETE' THEN
        DELETE FROM incident_viewers WHERE incident_id = OLD.id;
    ELSE
        IF {_state_changed("IS DISTINCT FROM")} THEN
            {_VIEWER_STATE}
        END IF;
        IF OLD.reporter_id IS DISTINCT FROM NEW.reporter_id THEN
            {_VIEWER_ADD.format(user="NEW.reporter_id", incident="NEW.id")}
            {_VIEWER_REMOVE.format(user="OLD.reporter_id", incident="NEW.id")}
        END IF;
    END IF;
    RETURN NULL;
END
$$
"""

PG_VIEWERS_TASKS = f"""
CREATE FUNCTION leakbot_incident_viewers_tasks() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'DELETE' THEN
        IF NEW.owner_id IS NOT NULL THEN
            {_VIEWER_ADD.format(user="NEW.owner_id", incident="NEW.incident_id")}
        END IF;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        IF OLD.owner_id IS NOT NULL THEN
            {_VIEWER_REMOVE.format(user="OLD.owner_id", incident="OLD.incident_id")}
        END IF;
    END IF;
    RETURN NULL;
END
$$
"""

# Migration 0007's viewer triggers (the same names here).
PG_TRIGGERS = (
    ("incidents_viewers", "incidents"),
    ("incidents_viewers_update", "incidents"),
    ("tasks_viewers", "tasks"),
    ("tasks_viewers_update", "tasks"),
)
PG_FUNCTIONS = ("leakbot_incident_viewers_incidents", "leakbot_incident_viewers_tasks")
SQLITE_TRIGGERS = (
    "incidents_viewers_insert",
    "incidents_viewers_delete",
    "incidents_viewers_status",
    "incidents_viewers_reporter",
    "tasks_viewers_insert",
    "tasks_viewers_delete",
    "tasks_viewers_owner",
)


def _viewer_triggers(postgres: bool) -> list[str]:
    if postgres:
        watched = ", ".join(("reporter_id", *_STATE))
        return [
            PG_VIEWERS_INCIDENTS,
            PG_VIEWERS_TASKS,
            "CREATE TRIGGER incidents_viewers AFTER INSERT OR DELETE ON incidents "
            "FOR EACH ROW EXECUTE FUNCTION leakbot_incident_viewers_incidents()",
            f"CREATE TRIGGER incidents_viewers_update AFTER UPDATE OF {watched} "
            f"ON incidents FOR EACH ROW WHEN ({_state_changed('IS DISTINCT FROM')} "
            "OR OLD.reporter_id IS DISTINCT FROM NEW.reporter_id) "
            "EXECUTE FUNCTION leakbot_incident_viewers_incidents()",
            "CREATE TRIGGER tasks_viewers AFTER INSERT OR DELETE ON tasks "
            "FOR EACH ROW EXECUTE FUNCTION leakbot_incident_viewers_tasks()",
            "CREATE TRIGGER tasks_viewers_update AFTER UPDATE OF owner_id ON tasks "
            "FOR EACH ROW WHEN (OLD.owner_id IS DISTINCT FROM NEW.owner_id) "
            "EXECUTE FUNCTION leakbot_incident_viewers_tasks()",
        ]
    add_reporter = _VIEWER_ADD.format(user="NEW.reporter_id", incident="NEW.id")
    return [
        "CREATE TRIGGER incidents_viewers_insert AFTER INSERT ON incidents "
        f"BEGIN {add_reporter} END",
        "CREATE TRIGGER incidents_viewers_delete AFTER DELETE ON incidents "
        "BEGIN DELETE FROM incident_viewers WHERE incident_id = OLD.id; END",
        f"CREATE TRIGGER incidents_viewers_status AFTER UPDATE OF {', '.join(_STATE)} "
        f"ON incidents WHEN {_state_changed('IS NOT')} BEGIN {_VIEWER_STATE} END",
        "CREATE TRIGGER incidents_viewers_reporter AFTER UPDATE OF reporter_id ON incidents "
        f"WHEN OLD.reporter_id IS NOT NEW.reporter_id BEGIN {add_reporter} "
        f"{_VIEWER_REMOVE.format(user='OLD.reporter_id', incident='NEW.id')} END",
        "CREATE TRIGGER tasks_viewers_insert AFTER INSERT ON tasks WHEN NEW.owner_id IS NOT NULL "
        f"BEGIN {_VIEWER_ADD.format(user='NEW.owner_id', incident='NEW.incident_id')} END",
        "CREATE TRIGGER tasks_viewers_delete AFTER DELETE ON tasks WHEN OLD.owner_id IS NOT NULL "
        f"BEGIN {_VIEWER_REMOVE.format(user='OLD.owner_id', incident='OLD.incident_id')} END",
        "CREATE TRIGGER tasks_viewers_owner AFTER UPDATE OF owner_id ON tasks "
        "WHEN OLD.owner_id IS NOT NEW.owner_id BEGIN "
        f"{_VIEWER_ADD.format(user='NEW.owner_id', incident='NEW.incident_id')} "
        f"{_VIEWER_REMOVE.format(user='OLD.owner_id', incident='OLD.incident_id')} END",
    ]


def _drop_viewer_triggers(postgres: bool) -> None:
    if postgres:
        for trigger, table in PG_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {table}")
        for function in PG_FUNCTIONS:
            op.execute(f"DROP FUNCTION IF EXISTS {function}()")
    else:
        for trigger in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")


def _revision_0007() -> ModuleType:
    """Migration 0007's module (its viewer triggers, put back by the downgrade)."""
    path = Path(__file__).with_name("0007_list_counts.py")
    spec = importlib.util.spec_from_file_location("leakbot_migration_0007", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        # No incident or task changes between the backfill and the triggers.
        op.execute("LOCK TABLE incidents, tasks IN SHARE ROW EXCLUSIVE MODE")
    _drop_viewer_triggers(postgres)
    op.add_column(
        "incident_viewers", sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.execute(
        "UPDATE incident_viewers SET decided_at = incidents.decided_at FROM incidents "
        "WHERE incidents.id = incident_viewers.incident_id "
        "AND incidents.decided_action IS NOT NULL AND incidents.decided_at IS NOT NULL"
    )
    op.create_index(
        "ix_incident_viewers_user_id_decided_at", "incident_viewers", ["user_id", "decided_at"]
    )
    for statement in _viewer_triggers(postgres):
        op.execute(statement)
    op.drop_index("ix_incidents_reporter_id_status", table_name="incidents")
    op.create_index(
        "ix_incidents_reporter_id_status",
        "incidents",
        ["reporter_id", "status", "created_at", "id", "partner_key", "partner"],
    )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.drop_index("ix_incidents_reporter_id_status", table_name="incidents")
    op.create_index(
        "ix_incidents_reporter_id_status",
        "incidents",
        ["reporter_id", "status", "created_at", "id"],
    )
    _drop_viewer_triggers(postgres)
    op.drop_index("ix_incident_viewers_user_id_decided_at", table_name="incident_viewers")
    op.drop_column("incident_viewers", "decided_at")
    for statement in _revision_0007()._viewer_triggers(postgres):
        op.execute(statement)
