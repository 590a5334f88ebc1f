"""History entries carry a copy of their deliverable's action line, beside its measure
and weight, in both covering fork indexes.

A rollup per action line as of a past time then groups the entries in effect by a column
of the index it already reads, instead of joining each of them to its measure (measured
on 100,000 deliverables and 1,000,000 entries on SQLite: 1.9x the current-state floor
with the join, 1.5x without; docs/performance.md).

The triggers of migration 0005 are replaced so that they keep the new copy in step too:
an entry written without it takes it from its deliverable's measure, a deliverable moved
to another measure rewrites its entries, and so does (new) a measure moved to another
action line.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

IN_EFFECT = ["deliverable_id", "to_status", "percent_complete", "measure_id", "weight",
             "action_line_id"]
FORK_INDEXES = {"ix_status_change_fork_ends": "valid_to",
                "ix_status_change_fork_begins": "effective_at"}

TRIGGERS = {
    "postgresql": [
        """
        CREATE OR REPLACE FUNCTION status_change_copy_deliverable() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            SELECT d.mandate_id, d.measure_id, d.weight, m.action_line_id
              INTO NEW.mandate_id, NEW.measure_id, NEW.weight, NEW.action_line_id
              FROM deliverable AS d JOIN measure AS m ON m.id = d.measure_id
             WHERE d.id = NEW.deliverable_id;
            RETURN NEW;
        END $$
        """,
        """
        CREATE TRIGGER status_change_copies BEFORE INSERT ON status_change FOR EACH ROW
        WHEN (NEW.mandate_id IS NULL OR NEW.measure_id IS NULL OR NEW.weight IS NULL
              OR NEW.action_line_id IS NULL)
        EXECUTE FUNCTION status_change_copy_deliverable()
        """,
        """
        CREATE OR REPLACE FUNCTION deliverable_copy_to_history() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE status_change SET measure_id = NEW.measure_id, weight = NEW.weight,
                   action_line_id = (SELECT action_line_id FROM measure
                                     WHERE id = NEW.measure_id)
             WHERE deliverable_id = NEW.id;
            RETURN NULL;
        END $$
        """,
        """
        CREATE FUNCTION measure_copy_to_history() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE status_change SET action_line_id = NEW.action_line_id
             WHERE deliverable_id IN (SELECT id FROM deliverable WHERE measure_id = NEW.id);
            RETURN NULL;
        END $$
        """,
        """
        CREATE TRIGGER measure_copies AFTER UPDATE OF action_line_id ON measure
        FOR EACH ROW WHEN (OLD.action_line_id IS DISTINCT FROM NEW.action_line_id)
        EXECUTE FUNCTION measure_copy_to_history()
        """,
    ],
    "sqlite": [
        """
        CREATE TRIGGER status_change_copies AFTER INSERT ON status_change FOR EACH ROW
        WHEN NEW.mandate_id IS NULL OR NEW.measure_id IS NULL OR NEW.weight IS NULL
             OR NEW.action_line_id IS NULL
        BEGIN
            UPDATE status_change SET
                mandate_id = (SELECT mandate_id FROM deliverable WHERE id = NEW.deliverable_id),
                measure_id = (SELECT measure_id FROM deliverable WHERE id = NEW.deliverable_id),
                weight = (SELECT weight FROM deliverable WHERE id = NEW.deliverable_id),
                action_line_id = (SELECT m.action_line_id FROM deliverable AS d
                                  JOIN measure AS m ON m.id = d.measure_id
                                  WHERE d.id = NEW.deliverable_id)
             WHERE id = NEW.id;
        END
        """,
        """
        CREATE TRIGGER deliverable_copies AFTER UPDATE OF measure_id, weight ON deliverable
        FOR EACH ROW
        WHEN OLD.measure_id IS NOT NEW.measure_id OR OLD.weight IS NOT NEW.weight
        BEGIN
            UPDATE status_change SET measure_id = NEW.measure_id, weight = NEW.weight,
                   action_line_id = (SELECT action_line_id FROM measure
                                     WHERE id = NEW.measure_id)
             WHERE deliverable_id = NEW.id;
        END
        """,
        """
        CREATE TRIGGER measure_copies AFTER UPDATE OF action_line_id ON measure
        FOR EACH ROW WHEN OLD.action_line_id IS NOT NEW.action_line_id
        BEGIN
            UPDATE status_change SET action_line_id = NEW.action_line_id
             WHERE deliverable_id IN (SELECT id FROM deliverable WHERE measure_id = NEW.id);
        END
        """,
    ],
}
DROP_TRIGGERS = {
    "postgresql": [
        "DROP TRIGGER IF EXISTS measure_copies ON measure",
        "DROP FUNCTION IF EXISTS measure_copy_to_history()",
        "DROP TRIGGER IF EXISTS status_change_copies ON status_change",
    ],
    "sqlite": [
        "DROP TRIGGER IF EXISTS measure_copies",
        "DROP TRIGGER IF EXISTS deliverable_copies",
        "DROP TRIGGER IF EXISTS status_change_copies",
    ],
}
"""What must go before this revision's triggers are created (PostgreSQL replaces the
functions in place; a trigger's WHEN clause cannot be replaced)."""


def _fork_indexes(columns: list[str]) -> None:
    with op.batch_alter_table("status_change", schema=None) as batch_op:
        for name, column in FORK_INDEXES.items():
            batch_op.drop_index(name)
            batch_op.create_index(name, ["mandate_id", "fork", column, *columns], unique=False)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    with op.batch_alter_table("status_change", schema=None) as batch_op:
        batch_op.add_column(sa.Column("action_line_id", sa.Integer(), nullable=True))
    op.execute(
        """
        UPDATE status_change SET action_line_id = (
            SELECT m.action_line_id FROM measure AS m WHERE m.id = status_change.measure_id)
        """
    )
    _fork_indexes(IN_EFFECT)
    for statement in [*DROP_TRIGGERS[dialect], *TRIGGERS[dialect]]:
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    earlier = context.script.get_revision("0005").module  # type: ignore[union-attr]
    for statement in [*DROP_TRIGGERS[dialect], *earlier.DROP_TRIGGERS[dialect]]:
        op.execute(statement)
    _fork_indexes(IN_EFFECT[:-1])
    with op.batch_alter_table("status_change", schema=None) as batch_op:
        batch_op.drop_column("action_line_id")
    # Migration 0005's triggers as they were, once SQLite's rebuilt table is in place.
    for statement in earlier.TRIGGERS[dialect]:
        op.execute(statement)
