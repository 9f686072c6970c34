"""Closing an incident with an outcome (issue 12): one row per close, kept when it is reopened.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "incident_closures",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.String(32), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("regulator", sa.JSON(), nullable=False),
        sa.Column("closed_by", sa.String(64), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reopened_by", sa.String(64), nullable=True),
        sa.Column("reopened_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name="fk_incident_closures_incident_id_incidents",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_incident_closures"),
    )
    op.create_index("ix_incident_closures_incident_id", "incident_closures", ["incident_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_incident_closures_incident_id", table_name="incident_closures")
    op.drop_table("incident_closures")
