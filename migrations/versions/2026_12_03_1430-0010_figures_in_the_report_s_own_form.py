"""Figures in the report's own form: a value's qualifier, split shares, components, total,
change and quote; a derived indicator's reported figures; indicator tags; a deliverable's
quantity.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 14:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("indicator_value") as batch:
        batch.add_column(sa.Column("qualifier", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("shares", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("components", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("out_of", sa.Float(), nullable=True))
        batch.add_column(sa.Column("change", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("quote", sa.Text(), nullable=True))
        batch.create_check_constraint(
            "qualifier_vocabulary",
            "qualifier IS NULL OR qualifier IN ('at_least', 'more_than', 'about', 'almost')")
        batch.create_check_constraint("out_of_positive", "out_of IS NULL OR out_of > 0")
    with op.batch_alter_table("indicator") as batch:
        batch.add_column(sa.Column("reported", sa.JSON(none_as_null=True), nullable=True))
        batch.add_column(sa.Column("tags", sa.JSON(none_as_null=True), nullable=True))
    # Not in batch mode: SQLite would copy the table, and the triggers that name it break.
    op.add_column("deliverable", sa.Column("quantity", sa.JSON(none_as_null=True),
                                           nullable=True))


def downgrade() -> None:
    op.drop_column("deliverable", "quantity")  # SQLite 3.35+ drops a column in place
    with op.batch_alter_table("indicator") as batch:
        batch.drop_column("reported")
        batch.drop_column("tags")
    with op.batch_alter_table("indicator_value") as batch:
        batch.drop_constraint("qualifier_vocabulary", type_="check")
        batch.drop_constraint("out_of_positive", type_="check")
        for column in ("quote", "change", "out_of", "components", "shares", "qualifier"):
            batch.drop_column(column)
