"""Webhook subscriptions (a salt per subscription, no secret) and their deliveries, with
the index the delivery worker claims by.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
DUE = sa.text("status IN ('pending', 'failed')")


def upgrade() -> None:
    op.create_table(
        "webhook_subscription",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=40), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("mandate_id", sa.Integer(), nullable=True),
        sa.Column("secret_salt", sa.String(length=64), nullable=False),
        sa.Column("secret_prefix", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["mandate_id"], ["mandate.id"], ondelete="CASCADE",
                                name=op.f("fk_webhook_subscription_mandate_id_mandate")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_subscription")),
        sa.UniqueConstraint("public_id", name=op.f("uq_webhook_subscription_public_id")),
    )
    op.create_table(
        "webhook_delivery",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("event_id", BIG_ID, nullable=False),
        sa.Column("delivery_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.SmallInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status_code", sa.SmallInteger(), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("response_excerpt", sa.String(length=500), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('pending', 'delivered', 'failed', 'given_up')",
                           name=op.f("ck_webhook_delivery_status_vocabulary")),
        sa.ForeignKeyConstraint(["event_id"], ["change_event.id"], ondelete="CASCADE",
                                name=op.f("fk_webhook_delivery_event_id_change_event")),
        sa.ForeignKeyConstraint(["subscription_id"], ["webhook_subscription.id"],
                                ondelete="CASCADE",
                                name=op.f("fk_webhook_delivery_subscription_id_webhook_subscription")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_delivery")),
        sa.UniqueConstraint("delivery_id", name=op.f("uq_webhook_delivery_delivery_id")),
        sa.UniqueConstraint("subscription_id", "event_id",
                            name=op.f("uq_webhook_delivery_subscription_id_event_id")),
    )
    op.create_index("ix_webhook_delivery_due", "webhook_delivery", ["next_attempt_at"],
                    postgresql_where=DUE, sqlite_where=DUE)
    op.create_index(op.f("ix_webhook_delivery_subscription_id_id"), "webhook_delivery",
                    ["subscription_id", "id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_webhook_delivery_subscription_id_id"), table_name="webhook_delivery")
    op.drop_index("ix_webhook_delivery_due", table_name="webhook_delivery")
    op.drop_table("webhook_delivery")
    op.drop_table("webhook_subscription")
