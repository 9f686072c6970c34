"""Counts and indexes for `/leak list` and the App Home tab at a million incidents (issue 14).

- reporter_status_counts (reporter_id, status, n) and partner_status_counts (partner,
  partner_key, status, n): how many incidents there are per reporter / partner spelling and
  status, kept by triggers on `incidents` (insert, delete, and an update that changes one of
  those columns) in the same transaction as the change, so that every writer — the app, an
  operator's SQL, a bulk load — keeps them right. Totals are a sum over a few rows instead of
  a count over every open incident. Backfilled with one GROUP BY each.
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
down_revision: str | None = "0005"
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
        # No incident changes between the backfill and the triggers (the migration's
        # transaction holds this until it commits).
        op.execute("LOCK TABLE incidents IN SHARE ROW EXCLUSIVE MODE")
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
        op.execute("DROP TRIGGER IF EXISTS incidents_status_counts_update ON incidents")
        op.execute("DROP TRIGGER IF EXISTS incidents_status_counts ON incidents")
        op.execute("DROP FUNCTION IF EXISTS leakbot_status_counts()")
    else:
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS incidents_status_counts_{name}")
    op.drop_table("partner_status_counts")
    op.drop_table("reporter_status_counts")
