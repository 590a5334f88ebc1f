"""Status history as an interval tree: each entry's fork node, and copies of its
deliverable's mandate, measure and weight kept in step by triggers, with covering indexes;
a covering rollup index on deliverable.

"The entries in effect at T" becomes a handful of index range scans that return exactly
those entries (see app/services/status/history.py), and a rollup as of T reads them alone.

SQLite drops a table's triggers when a batch migration rebuilds it: a later revision that
rebuilds status_change or deliverable must create the triggers below again
(tests/test_bench.py checks that the copies follow a weight change).

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
        batch_op.alter_column("fork", existing_type=sa.Integer(), nullable=False,
                              server_default=str(OPEN_FORK))
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
    for statement in TRIGGERS[dialect]:
        op.execute(statement)


TRIGGERS = {
    "postgresql": [
        """
        CREATE FUNCTION status_change_copy_deliverable() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            SELECT d.mandate_id, d.measure_id, d.weight
              INTO NEW.mandate_id, NEW.measure_id, NEW.weight
              FROM deliverable AS d WHERE d.id = NEW.deliverable_id;
            RETURN NEW;
        END $$
        """,
        """
        CREATE TRIGGER status_change_copies BEFORE INSERT ON status_change FOR EACH ROW
        WHEN (NEW.mandate_id IS NULL OR NEW.measure_id IS NULL OR NEW.weight IS NULL)
        EXECUTE FUNCTION status_change_copy_deliverable()
        """,
        """
        CREATE FUNCTION deliverable_copy_to_history() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE status_change SET measure_id = NEW.measure_id, weight = NEW.weight
             WHERE deliverable_id = NEW.id;
            RETURN NULL;
        END $$
        """,
        """
        CREATE TRIGGER deliverable_copies AFTER UPDATE OF measure_id, weight ON deliverable
        FOR EACH ROW
        WHEN (OLD.measure_id IS DISTINCT FROM NEW.measure_id
              OR OLD.weight IS DISTINCT FROM NEW.weight)
        EXECUTE FUNCTION deliverable_copy_to_history()
        """,
    ],
    "sqlite": [
        """
        CREATE TRIGGER status_change_copies AFTER INSERT ON status_change FOR EACH ROW
        WHEN NEW.mandate_id IS NULL OR NEW.measure_id IS NULL OR NEW.weight IS NULL
        BEGIN
            UPDATE status_change SET
                mandate_id = (SELECT mandate_id FROM deliverable WHERE id = NEW.deliverable_id),
                measure_id = (SELECT measure_id FROM deliverable WHERE id = NEW.deliverable_id),
                weight = (SELECT weight FROM deliverable WHERE id = NEW.deliverable_id)
             WHERE id = NEW.id;
        END
        """,
        """
        CREATE TRIGGER deliverable_copies AFTER UPDATE OF measure_id, weight ON deliverable
        FOR EACH ROW
        WHEN OLD.measure_id IS NOT NEW.measure_id OR OLD.weight IS NOT NEW.weight
        BEGIN
            UPDATE status_change SET measure_id = NEW.measure_id, weight = NEW.weight
             WHERE deliverable_id = NEW.id;
        END
        """,
    ],
}
DROP_TRIGGERS = {
    "postgresql": [
        "DROP TRIGGER IF EXISTS deliverable_copies ON deliverable",
        "DROP FUNCTION IF EXISTS deliverable_copy_to_history()",
        "DROP TRIGGER IF EXISTS status_change_copies ON status_change",
        "DROP FUNCTION IF EXISTS status_change_copy_deliverable()",
    ],
    "sqlite": [
        "DROP TRIGGER IF EXISTS deliverable_copies",
        "DROP TRIGGER IF EXISTS status_change_copies",
    ],
}


def downgrade() -> None:
    for statement in DROP_TRIGGERS[op.get_bind().dialect.name]:
        op.execute(statement)
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
