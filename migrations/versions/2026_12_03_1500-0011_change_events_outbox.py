"""The change log: one row per change, written in the change's own transaction (a
transactional outbox), read by the change stream and the webhook deliveries.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "change_event",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  autoincrement=True, nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("mandate_id", sa.Integer(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("author_name", sa.String(length=200), nullable=False),
        sa.Column("author_role", sa.String(length=16), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["mandate_id"], ["mandate.id"], ondelete="CASCADE",
                                name=op.f("fk_change_event_mandate_id_mandate")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_event")),
    )
    op.create_index(op.f("ix_change_event_mandate_id_id"), "change_event",
                    ["mandate_id", "id"])
    op.create_index("ix_change_event_undispatched", "change_event", ["id"],
                    postgresql_where=sa.text("dispatched_at IS NULL"),
                    sqlite_where=sa.text("dispatched_at IS NULL"))


def downgrade() -> None:
    op.drop_index("ix_change_event_undispatched", table_name="change_event")
    op.drop_index(op.f("ix_change_event_mandate_id_id"), table_name="change_event")
    op.drop_table("change_event")
