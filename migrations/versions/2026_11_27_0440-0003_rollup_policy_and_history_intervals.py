"""Rollup policy and data version per mandate; each status change knows when it stopped
being in effect.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 04:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("mandate", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("in_progress_credit", sa.Float(), server_default="0.5", nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "not_achieved_counts", sa.Boolean(), server_default=sa.true(), nullable=False
            )
        )
        batch_op.add_column(
            sa.Column("data_version", sa.Integer(), server_default="1", nullable=False)
        )
        batch_op.create_check_constraint(
            "in_progress_credit_range", "in_progress_credit >= 0 AND in_progress_credit <= 1"
        )
    with op.batch_alter_table("status_change", schema=None) as batch_op:
        batch_op.add_column(sa.Column("valid_to", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_status_change_deliverable_id_valid_to"),
            ["deliverable_id", "valid_to"],
            unique=False,
        )
    # Each existing entry ends where the next one (same deliverable) begins.
    op.execute(
        """
        UPDATE status_change SET valid_to = (
            SELECT MIN(later.effective_at) FROM status_change AS later
            WHERE later.deliverable_id = status_change.deliverable_id
              AND (later.effective_at, later.recorded_at, later.id)
                > (status_change.effective_at, status_change.recorded_at, status_change.id)
        )
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("status_change", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_status_change_deliverable_id_valid_to"))
        batch_op.drop_column("valid_to")
    with op.batch_alter_table("mandate", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_mandate_in_progress_credit_range"), type_="check")
        batch_op.drop_column("data_version")
        batch_op.drop_column("not_achieved_counts")
        batch_op.drop_column("in_progress_credit")
