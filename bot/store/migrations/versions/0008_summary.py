"""Incidents per UTC hour and chart category, decisions per UTC hour and action, kept by triggers.

For the weekly summary and its chart at a million incidents (issue 14):

- incident_hour_counts (hour, then one column per chart category: the five actions, rejected,
  undecided): how many incidents created in that UTC hour count as each category of the weekly
  chart (bot/domain/chart.py `category`: the decided action, else rejected when sent back,
  else undecided). Kept by triggers on `incidents` (insert, delete, and an update of status,
  decided_action or created_at) in the same transaction as the change, as 0007's counts are.
  The chart's 12 weeks read ~2,000 rows instead of ~115,000 index entries at a million
  incidents, and a week's "opened" count 168 rows; by UTC hour, so that the week boundaries of
  any whole-hour timezone fall on a row boundary (others count from the index, as before).
  Backfilled with one GROUP BY over the (created_at, status, decided_action, …) index.
- decision_hour_counts (hour, decided_action, followed, n): the decisions (status decided) per
  UTC hour of decided_at, decided action ('' for none) and whether it followed the
  recommendation, kept by triggers the same way: the week's decisions by action, "as
  recommended" and their total read ~1,700 rows instead of the week's decisions in the
  (decided_at, …) index. Backfilled with one GROUP BY.

One row per hour in incident_hour_counts, so a change of status or action moves counts within
one row: a writer takes one row lock there (two, smaller hour first, only if created_at itself
changes); in decision_hour_counts a decision, a reopening or a new round moves one row (two,
smaller key first, if a decided incident's action or recommendation changes). On PostgreSQL
the triggers fire in name order (decision_hour_counts, hour_counts, then 0007's), the same for
every writer.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The chart's categories as of this revision (bot.domain.chart.CATEGORIES): the actions, then
# sent back, then undecided. Columns of the same names.
ACTIONS = (
    "continue_unchanged",
    "continue_with_concern",
    "request_report",
    "consider_suspension",
    "suspend_and_legal",
)
CATEGORIES = (*ACTIONS, "rejected", "undecided")
_IN_ACTIONS = ", ".join(f"'{action}'" for action in ACTIONS)


def category(row: str) -> str:
    """bot.domain.chart.category in SQL, of `row` (NEW, OLD or the table)."""
    return (
        f"(CASE WHEN {row}.decided_action IN ({_IN_ACTIONS}) THEN {row}.decided_action "
        f"WHEN {row}.status = 'rejected' THEN 'rejected' ELSE 'undecided' END)"
    )


def hour(row: str, postgres: bool, column: str = "created_at") -> str:
    """The UTC hour of `row`.`column`, as the hour columns store it."""
    if postgres:
        return f"(date_trunc('hour', {row}.{column} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')"
    # naive UTC text 'YYYY-MM-DD HH:MM:SS.ffffff' (bot.store.tables.UTCDateTime)
    return f"(substr({row}.{column}, 1, 13) || ':00:00.000000')"


def _add(row: str, sign: int, postgres: bool) -> str:
    """Count `row` (sign 1) or uncount it (sign -1) in its hour's row."""
    columns = ", ".join(CATEGORIES)
    values = ", ".join(
        f"CASE WHEN {category(row)} = '{name}' THEN {sign} ELSE 0 END" for name in CATEGORIES
    )
    updates = ", ".join(
        f"{name} = incident_hour_counts.{name} + excluded.{name}" for name in CATEGORIES
    )
    return (
        f"INSERT INTO incident_hour_counts (hour, {columns}) "
        f"VALUES ({hour(row, postgres)}, {values}) "
        f"ON CONFLICT (hour) DO UPDATE SET {updates};"
    )


def _decided(row: str) -> str:
    """`row` counts among the decisions (bot/store/reports.py: status decided, decided_at set)."""
    return f"({row}.status = 'decided' AND {row}.decided_at IS NOT NULL)"


def _decision_key(row: str, postgres: bool) -> str:
    """(hour of decided_at, decided action or '', 1 if it followed the recommendation)."""
    return (
        f"{hour(row, postgres, 'decided_at')}, coalesce({row}.decided_action, ''), "
        f"CASE WHEN {row}.decided_action = {row}.recommendation THEN 1 ELSE 0 END"
    )


def _count_decision(row: str, sign: int, postgres: bool) -> str:
    """Count `row` (sign 1) or uncount it (sign -1) in its decision row, if it is a decision."""
    return (
        "INSERT INTO decision_hour_counts (hour, decided_action, followed, n) "
        f"SELECT {_decision_key(row, postgres)}, {sign} WHERE {_decided(row)} "
        "ON CONFLICT (hour, decided_action, followed) "
        "DO UPDATE SET n = decision_hour_counts.n + excluded.n;"
    )


# Decision rows: the smaller key first, as every writer does.
PG_DECISIONS_FUNCTION = f"""
CREATE FUNCTION leakbot_decision_hour_counts() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {_count_decision("NEW", 1, True)}
    ELSIF TG_OP = 'DELETE' THEN
        {_count_decision("OLD", -1, True)}
    ELSIF ROW({_decision_key("OLD", True)}) <= ROW({_decision_key("NEW", True)}) THEN
        {_count_decision("OLD", -1, True)}
        {_count_decision("NEW", 1, True)}
    ELSE
        {_count_decision("NEW", 1, True)}
        {_count_decision("OLD", -1, True)}
    END IF;
    RETURN NULL;
END
$$
"""
DECISION_COLUMNS = ("status", "decided_at", "decided_action", "recommendation")


def _decision_moved(distinct: str) -> str:
    return " OR ".join(f"OLD.{c} {distinct} NEW.{c}" for c in DECISION_COLUMNS)


PG_FUNCTION = f"""
CREATE FUNCTION leakbot_incident_hour_counts() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {_add("NEW", 1, True)}
    ELSIF TG_OP = 'DELETE' THEN
        {_add("OLD", -1, True)}
    ELSIF OLD.created_at <= NEW.created_at THEN  -- the smaller hour's row first
        {_add("OLD", -1, True)}
        {_add("NEW", 1, True)}
    ELSE
        {_add("NEW", 1, True)}
        {_add("OLD", -1, True)}
    END IF;
    RETURN NULL;
END
$$
"""


def _moved(distinct: str) -> str:
    return (
        f"{category('OLD')} {distinct} {category('NEW')} "
        f"OR OLD.created_at {distinct} NEW.created_at"
    )


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        # No incident changes between the backfill and the triggers.
        op.execute("LOCK TABLE incidents IN SHARE ROW EXCLUSIVE MODE")
    op.create_table(
        "incident_hour_counts",
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in CATEGORIES),
        sa.PrimaryKeyConstraint("hour", name="pk_incident_hour_counts"),
    )
    sums = ", ".join(
        f"sum(CASE WHEN {category('incidents')} = '{name}' THEN 1 ELSE 0 END)"
        for name in CATEGORIES
    )
    op.execute(
        f"INSERT INTO incident_hour_counts (hour, {', '.join(CATEGORIES)}) "
        f"SELECT {hour('incidents', postgres)}, {sums} FROM incidents "
        f"GROUP BY {hour('incidents', postgres)}"
    )
    op.create_table(
        "decision_hour_counts",
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_action", sa.String(64), nullable=False),
        sa.Column("followed", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "hour", "decided_action", "followed", name="pk_decision_hour_counts"
        ),
    )
    key = _decision_key("incidents", postgres)
    op.execute(
        "INSERT INTO decision_hour_counts (hour, decided_action, followed, n) "
        f"SELECT {key}, count(*) FROM incidents WHERE {_decided('incidents')} GROUP BY {key}"
    )
    decision_watched = ", ".join(DECISION_COLUMNS)
    if postgres:
        op.execute(PG_DECISIONS_FUNCTION)
        op.execute(
            "CREATE TRIGGER incidents_decision_hour_counts AFTER INSERT OR DELETE ON incidents "
            "FOR EACH ROW EXECUTE FUNCTION leakbot_decision_hour_counts()"
        )
        op.execute(
            "CREATE TRIGGER incidents_decision_hour_counts_update "
            f"AFTER UPDATE OF {decision_watched} ON incidents "
            f"FOR EACH ROW WHEN ({_decision_moved('IS DISTINCT FROM')}) "
            "EXECUTE FUNCTION leakbot_decision_hour_counts()"
        )
    else:
        op.execute(
            "CREATE TRIGGER incidents_decision_hour_counts_insert AFTER INSERT ON incidents "
            f"BEGIN {_count_decision('NEW', 1, False)} END"
        )
        op.execute(
            "CREATE TRIGGER incidents_decision_hour_counts_delete AFTER DELETE ON incidents "
            f"BEGIN {_count_decision('OLD', -1, False)} END"
        )
        op.execute(
            "CREATE TRIGGER incidents_decision_hour_counts_update "
            f"AFTER UPDATE OF {decision_watched} ON incidents "
            f"WHEN {_decision_moved('IS NOT')} BEGIN "
            f"{_count_decision('OLD', -1, False)} {_count_decision('NEW', 1, False)} END"
        )
    watched = "status, decided_action, created_at"
    if postgres:
        op.execute(PG_FUNCTION)
        op.execute(
            "CREATE TRIGGER incidents_hour_counts AFTER INSERT OR DELETE ON incidents "
            "FOR EACH ROW EXECUTE FUNCTION leakbot_incident_hour_counts()"
        )
        op.execute(
            f"CREATE TRIGGER incidents_hour_counts_update AFTER UPDATE OF {watched} "
            f"ON incidents FOR EACH ROW WHEN ({_moved('IS DISTINCT FROM')}) "
            "EXECUTE FUNCTION leakbot_incident_hour_counts()"
        )
    else:
        op.execute(
            "CREATE TRIGGER incidents_hour_counts_insert AFTER INSERT ON incidents "
            f"BEGIN {_add('NEW', 1, False)} END"
        )
        op.execute(
            "CREATE TRIGGER incidents_hour_counts_delete AFTER DELETE ON incidents "
            f"BEGIN {_add('OLD', -1, False)} END"
        )
        op.execute(
            f"CREATE TRIGGER incidents_hour_counts_update AFTER UPDATE OF {watched} "
            f"ON incidents WHEN {_moved('IS NOT')} "
            f"BEGIN {_add('OLD', -1, False)} {_add('NEW', 1, False)} END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in ("hour_counts", "decision_hour_counts"):
            op.execute(f"DROP TRIGGER IF EXISTS incidents_{name}_update ON incidents")
            op.execute(f"DROP TRIGGER IF EXISTS incidents_{name} ON incidents")
        op.execute("DROP FUNCTION IF EXISTS leakbot_incident_hour_counts()")
        op.execute("DROP FUNCTION IF EXISTS leakbot_decision_hour_counts()")
    else:
        for name in ("hour_counts", "decision_hour_counts"):
            for event in ("insert", "delete", "update"):
                op.execute(f"DROP TRIGGER IF EXISTS incidents_{name}_{event}")
    op.drop_table("decision_hour_counts")
    op.drop_table("incident_hour_counts")
