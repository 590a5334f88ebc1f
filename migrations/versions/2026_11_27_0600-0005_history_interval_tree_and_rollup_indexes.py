"""Status history as an interval tree: each entry's fork node, its mandate, and copies of
its deliverable's measure and weight, with covering indexes; a covering rollup index on
deliverable.

"The entries in effect at T" becomes a handful of index range scans that return exactly
those entries (see app/services/history.py), and a rollup as of T reads them alone.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN_FORK = 1 << 16
IN_EFFECT = ["deliverable_id", "to_status", "percent_complete", "measure_id", "weight"]


def _day_key(column: str, dialect: str) -> str:
    """Whole UTC days since 1970-01-01, clamped to 1..65534 (as history.day_key)."""
    if dialect == "postgresql":
        days = f"(({column} AT TIME ZONE 'UTC')::date - DATE '1970-01-01')"
        return f"LEAST(GREATEST({days}, 1), 65534)"
    days = f"CAST(julianday(substr({column}, 1, 10)) - 2440587.5 AS INTEGER)"
    return f"min(max({days}, 1), 65534)"


def _fork(dialect: str) -> str:
    """The number with the most trailing zero bits in [day(effective_at), day(valid_to)]
    (as history.fork_of); OPEN_FORK for the entries still in effect."""
    low, high = _day_key("effective_at", dialect), _day_key("valid_to", dialect)
    branches = " ".join(
        f"WHEN (({high}) >> {k}) << {k} >= {low} THEN (({high}) >> {k}) << {k}"
        for k in range(15, 0, -1)
    )
    return f"CASE WHEN valid_to IS NULL THEN {OPEN_FORK} {branches} ELSE {high} END"


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    with op.batch_alter_table("status_change", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fork", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("mandate_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("measure_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("weight", sa.Float(), nullable=True))
    op.execute(
        """
        UPDATE status_change SET
            mandate_id = (SELECT d.mandate_id FROM deliverable AS d
                          WHERE d.id = status_change.deliverable_id),
            measure_id = (SELECT d.measure_id FROM deliverable AS d
                          WHERE d.id = status_change.deliverable_id),
            weight = (SELECT d.weight FROM deliverable AS d
                      WHERE d.id = status_change.deliverable_id)
        """
    )
    op.execute(f"UPDATE status_change SET fork = {_fork(dialect)}")
    with op.batch_alter_table("status_change", schema=None) as batch_op:
        batch_op.alter_column("fork", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("mandate_id", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("measure_id", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("weight", existing_type=sa.Float(), nullable=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_status_change_mandate_id_mandate"), "mandate", ["mandate_id"], ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_index(
            "ix_status_change_fork_ends", ["mandate_id", "fork", "valid_to", *IN_EFFECT],
            unique=False,
        )
        batch_op.create_index(
            "ix_status_change_fork_begins", ["mandate_id", "fork", "effective_at", *IN_EFFECT],
            unique=False,
        )
    with op.batch_alter_table("deliverable", schema=None) as batch_op:
        batch_op.create_index(
            "ix_deliverable_rollup",
            ["mandate_id", "measure_id", "status", "weight", "percent_complete"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("deliverable", schema=None) as batch_op:
        batch_op.drop_index("ix_deliverable_rollup")
    with op.batch_alter_table("status_change", schema=None) as batch_op:
        batch_op.drop_index("ix_status_change_fork_begins")
        batch_op.drop_index("ix_status_change_fork_ends")
        batch_op.drop_constraint(
            batch_op.f("fk_status_change_mandate_id_mandate"), type_="foreignkey"
        )
        batch_op.drop_column("weight")
        batch_op.drop_column("measure_id")
        batch_op.drop_column("mandate_id")
        batch_op.drop_column("fork")
