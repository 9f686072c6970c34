"""Counts and indexes for `/leak list` and the App Home tab at a million incidents (issue 14).

- reporter_status_counts (reporter_id, status, n) and partner_status_counts (partner,
  partner_key, status, n): how many incidents there are per reporter / partner spelling and
  status, kept by triggers on `incidents` (insert, delete, and an update that changes one of
  those columns) in the same transaction as the change, so that every writer — the app, an
  operator's SQL, a bulk load — keeps them right. Totals are a sum over a few rows instead of
  a count over every open incident. Backfilled with one GROUP BY each.
- incident_viewers (user_id, incident_id, status, created_at): who may see an incident besides
  the approvers — its reporter and its tasks' owners — kept by triggers on `incidents` (insert;
  status or reporter changed) and `tasks` (insert, owner changed, delete); a person's App Home
  lists and counts read their rows by (user_id, status, created_at, incident_id) instead of
  testing every open incident. Backfilled from the incidents and the distinct task owners.
- incidents (reporter_id, status, created_at, id) replaces (reporter_id): a reporter's
  incidents per status, newest first, without a sort; incidents (partner, status, created_at,
  id): the incidents of a few partner spellings per status. Both hold the id, so a page's ids
  are read from the index alone.

On PostgreSQL the trigger function takes its row locks in one order (table, then key), so two
writers moving incidents between the same statuses in opposite directions cannot deadlock.

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The columns whose change moves an incident between counted groups.
WATCHED = ("status", "reporter_id", "partner", "partner_key")

_PG_ADD_REPORTER = """
        INSERT INTO reporter_status_counts AS c (reporter_id, status, n)
        VALUES (NEW.reporter_id, NEW.status, 1)
        ON CONFLICT (reporter_id, status) DO UPDATE SET n = c.n + 1;"""
_PG_REMOVE_REPORTER = """
        UPDATE reporter_status_counts SET n = n - 1
        WHERE reporter_id = OLD.reporter_id AND status = OLD.status;"""
_PG_ADD_PARTNER = """
        INSERT INTO partner_status_counts AS c (partner, partner_key, status, n)
        VALUES (NEW.partner, NEW.partner_key, NEW.status, 1)
        ON CONFLICT (partner, partner_key, status) DO UPDATE SET n = c.n + 1;"""
_PG_REMOVE_PARTNER = """
        UPDATE partner_status_counts SET n = n - 1
        WHERE partner = OLD.partner AND partner_key = OLD.partner_key AND status = OLD.status;"""

# reporter_status_counts first, then partner_status_counts; within a table, the smaller key
# first: every writer takes its row locks in the same order.
PG_FUNCTION = f"""
CREATE FUNCTION leakbot_status_counts() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {_PG_ADD_REPORTER}
        {_PG_ADD_PARTNER}
    ELSIF TG_OP = 'DELETE' THEN
        {_PG_REMOVE_REPORTER}
        {_PG_REMOVE_PARTNER}
    ELSE
        IF (OLD.reporter_id, OLD.status) < (NEW.reporter_id, NEW.status) THEN
            {_PG_REMOVE_REPORTER}
            {_PG_ADD_REPORTER}
        ELSIF (OLD.reporter_id, OLD.status) > (NEW.reporter_id, NEW.status) THEN
            {_PG_ADD_REPORTER}
            {_PG_REMOVE_REPORTER}
        END IF;
        IF (OLD.partner, OLD.partner_key, OLD.status)
                < (NEW.partner, NEW.partner_key, NEW.status) THEN
            {_PG_REMOVE_PARTNER}
            {_PG_ADD_PARTNER}
        ELSIF (OLD.partner, OLD.partner_key, OLD.status)
                > (NEW.partner, NEW.partner_key, NEW.status) THEN
            {_PG_ADD_PARTNER}
            {_PG_REMOVE_PARTNER}
        END IF;
    END IF;
    RETURN NULL;
END
$$
"""


# Who may see an incident (bot/store/home.py): its reporter and its tasks' owners.
_VIEWER_ADD = """
    INSERT INTO incident_viewers (user_id, incident_id, status, created_at)
    SELECT {user}, id, status, created_at FROM incidents WHERE id = {incident}
    ON CONFLICT (user_id, incident_id) DO NOTHING;"""
# `user` no longer reports the incident nor owns one of its tasks.
_VIEWER_REMOVE = """
    DELETE FROM incident_viewers WHERE user_id = {user} AND incident_id = {incident}
    AND NOT EXISTS (SELECT 1 FROM tasks WHERE tasks.incident_id = {incident}
                    AND tasks.owner_id = {user})
    AND NOT EXISTS (SELECT 1 FROM incidents WHERE incidents.id = {incident}
                    AND incidents.reporter_id = {user});"""
_VIEWER_STATUS = """
    UPDATE incident_viewers SET status = NEW.status WHERE incident_id = NEW.id;"""

PG_VIEWERS_INCIDENTS = f"""
CREATE FUNCTION leakbot_incident_viewers_incidents() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {_VIEWER_ADD.format(user="NEW.reporter_id", incident="NEW.id")}
    ELSIF TG_OP = 'DELETE' THEN
        DELETE FROM incident_viewers WHERE incident_id = OLD.id;
    ELSE
        IF OLD.status IS DISTINCT FROM NEW.status THEN
            {_VIEWER_STATUS}
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


def _viewer_triggers(postgres: bool) -> list[str]:
    if postgres:
        return [
            PG_VIEWERS_INCIDENTS,
            PG_VIEWERS_TASKS,
            "CREATE TRIGGER incidents_viewers AFTER INSERT OR DELETE ON incidents "
            "FOR EACH ROW EXECUTE FUNCTION leakbot_incident_viewers_incidents()",
            "CREATE TRIGGER incidents_viewers_update AFTER UPDATE OF status, reporter_id "
            "ON incidents FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status "
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
        "CREATE TRIGGER incidents_viewers_status AFTER UPDATE OF status ON incidents "
        f"WHEN OLD.status IS NOT NEW.status BEGIN {_VIEWER_STATUS} END",
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


def _changed(old: str, new: str, distinct: str) -> str:
    return " OR ".join(f"{old}.{c} {distinct} {new}.{c}" for c in WATCHED)


_SQLITE_ADD = """
    INSERT INTO reporter_status_counts (reporter_id, status, n)
    VALUES (NEW.reporter_id, NEW.status, 1)
    ON CONFLICT (reporter_id, status) DO UPDATE SET n = n + 1;
    INSERT INTO partner_status_counts (partner, partner_key, status, n)
    VALUES (NEW.partner, NEW.partner_key, NEW.status, 1)
    ON CONFLICT (partner, partner_key, status) DO UPDATE SET n = n + 1;
"""
_SQLITE_REMOVE = """
    UPDATE reporter_status_counts SET n = n - 1
    WHERE reporter_id = OLD.reporter_id AND status = OLD.status;
    UPDATE partner_status_counts SET n = n - 1
    WHERE partner = OLD.partner AND partner_key = OLD.partner_key AND status = OLD.status;
"""


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        # No incident or task changes between the backfills and the triggers (the
        # migration's transaction holds these until it commits).
        op.execute("LOCK TABLE incidents, tasks IN SHARE ROW EXCLUSIVE MODE")
    op.create_table(
        "reporter_status_counts",
        sa.Column("reporter_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("reporter_id", "status", name="pk_reporter_status_counts"),
    )
    op.create_table(
        "partner_status_counts",
        sa.Column("partner", sa.Text(), nullable=False),
        sa.Column("partner_key", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "partner", "partner_key", "status", name="pk_partner_status_counts"
        ),
    )
    op.execute(
        "INSERT INTO reporter_status_counts (reporter_id, status, n) "
        "SELECT reporter_id, status, count(*) FROM incidents GROUP BY reporter_id, status"
    )
    op.execute(
        "INSERT INTO partner_status_counts (partner, partner_key, status, n) "
        "SELECT partner, partner_key, status, count(*) FROM incidents "
        "GROUP BY partner, partner_key, status"
    )
    op.create_table(
        "incident_viewers",
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("incident_id", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "incident_id", name="pk_incident_viewers"),
    )
    op.execute(
        "INSERT INTO incident_viewers (user_id, incident_id, status, created_at) "
        "SELECT reporter_id, id, status, created_at FROM incidents"
    )
    op.execute(
        "INSERT INTO incident_viewers (user_id, incident_id, status, created_at) "
        "SELECT DISTINCT t.owner_id, i.id, i.status, i.created_at "
        "FROM tasks t JOIN incidents i ON i.id = t.incident_id "
        "WHERE t.owner_id IS NOT NULL AND t.owner_id <> i.reporter_id"
    )
    op.create_index(
        "ix_incident_viewers_user_id_status",
        "incident_viewers",
        ["user_id", "status", "created_at", "incident_id"],
    )
    op.create_index("ix_incident_viewers_incident_id", "incident_viewers", ["incident_id"])
    for statement in _viewer_triggers(postgres):
        op.execute(statement)
    watched = ", ".join(WATCHED)
    if postgres:
        op.execute(PG_FUNCTION)
        op.execute(
            "CREATE TRIGGER incidents_status_counts AFTER INSERT OR DELETE ON incidents "
            "FOR EACH ROW EXECUTE FUNCTION leakbot_status_counts()"
        )
        op.execute(
            f"CREATE TRIGGER incidents_status_counts_update AFTER UPDATE OF {watched} "
            f"ON incidents FOR EACH ROW WHEN ({_changed('OLD', 'NEW', 'IS DISTINCT FROM')}) "
            "EXECUTE FUNCTION leakbot_status_counts()"
        )
    else:
        op.execute(
            f"CREATE TRIGGER incidents_status_counts_insert AFTER INSERT ON incidents "
            f"BEGIN {_SQLITE_ADD} END"
        )
        op.execute(
            f"CREATE TRIGGER incidents_status_counts_delete AFTER DELETE ON incidents "
            f"BEGIN {_SQLITE_REMOVE} END"
        )
        op.execute(
            f"CREATE TRIGGER incidents_status_counts_update AFTER UPDATE OF {watched} "
            f"ON incidents WHEN {_changed('OLD', 'NEW', 'IS NOT')} "
            f"BEGIN {_SQLITE_REMOVE} {_SQLITE_ADD} END"
        )
    op.create_index(
        "ix_incidents_reporter_id_status",
        "incidents",
        ["reporter_id", "status", "created_at", "id"],
    )
    op.drop_index("ix_incidents_reporter_id", table_name="incidents")
    op.create_index(
        "ix_incidents_partner_status_created_at",
        "incidents",
        ["partner", "status", "created_at", "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_incidents_partner_status_created_at", table_name="incidents")
    op.create_index("ix_incidents_reporter_id", "incidents", ["reporter_id"])
    op.drop_index("ix_incidents_reporter_id_status", table_name="incidents")
    if op.get_bind().dialect.name == "postgresql":
        for trigger, table in (
            ("incidents_viewers", "incidents"),
            ("incidents_viewers_update", "incidents"),
            ("tasks_viewers", "tasks"),
            ("tasks_viewers_update", "tasks"),
        ):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {table}")
        op.execute("DROP FUNCTION IF EXISTS leakbot_incident_viewers_incidents()")
        op.execute("DROP FUNCTION IF EXISTS leakbot_incident_viewers_tasks()")
        op.execute("DROP TRIGGER IF EXISTS incidents_status_counts_update ON incidents")
        op.execute("DROP TRIGGER IF EXISTS incidents_status_counts ON incidents")
        op.execute("DROP FUNCTION IF EXISTS leakbot_status_counts()")
    else:
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS incidents_status_counts_{name}")
        for name in (
            "incidents_viewers_insert",
            "incidents_viewers_delete",
            "incidents_viewers_status",
            "incidents_viewers_reporter",
            "tasks_viewers_insert",
            "tasks_viewers_delete",
            "tasks_viewers_owner",
        ):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_table("incident_viewers")
    op.drop_table("partner_status_counts")
    op.drop_table("reporter_status_counts")
