"""Indicators: currency, tolerance, how periods combine, a declared split, a version;
values broken down by the split.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 04:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("indicator", schema=None) as batch_op:
        batch_op.add_column(sa.Column("currency", sa.String(length=3), nullable=True))
        batch_op.add_column(sa.Column("tolerance", sa.Float(), nullable=True))
        batch_op.add_column(
            sa.Column("aggregation", sa.String(length=8), server_default="last", nullable=False)
        )
        batch_op.add_column(sa.Column("split", sa.String(length=16), nullable=True))
        batch_op.add_column(
            sa.Column("version", sa.Integer(), server_default="1", nullable=False)
        )
        batch_op.create_check_constraint(
            "aggregation_vocabulary", "aggregation IN ('sum', 'last', 'max', 'mean')"
        )
        batch_op.create_check_constraint(
            "split_vocabulary", "split IS NULL OR split IN ('gender')"
        )
        batch_op.create_check_constraint(
            "currency_with_currency_unit", "(unit = 'currency') = (currency IS NOT NULL)"
        )
        batch_op.create_check_constraint(
            "tolerance_not_negative", "tolerance IS NULL OR tolerance >= 0"
        )
        batch_op.create_check_constraint("version_positive", "version >= 1")
    with op.batch_alter_table("indicator_value", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parts", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("indicator_value", schema=None) as batch_op:
        batch_op.drop_column("parts")
    with op.batch_alter_table("indicator", schema=None) as batch_op:
        for name in (
            "version_positive",
            "tolerance_not_negative",
            "currency_with_currency_unit",
            "split_vocabulary",
            "aggregation_vocabulary",
        ):
            batch_op.drop_constraint(op.f(f"ck_indicator_{name}"), type_="check")
        for column in ("version", "split", "aggregation", "tolerance", "currency"):
            batch_op.drop_column(column)
