"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-27 04:19:18.833779
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "role IN ('viewer', 'editor', 'admin')", name=op.f("ck_api_token_role_vocabulary")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_token")),
        sa.UniqueConstraint("name", name=op.f("uq_api_token_name")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_token_token_hash")),
    )
    op.create_table(
        "mandate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=2000), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("end_date >= start_date", name=op.f("ck_mandate_dates_ordered")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mandate")),
        sa.UniqueConstraint("code", name=op.f("uq_mandate_code")),
    )
    op.create_table(
        "action_line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mandate_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=2000), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["mandate_id"],
            ["mandate.id"],
            name=op.f("fk_action_line_mandate_id_mandate"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_action_line")),
        sa.UniqueConstraint("id", "mandate_id", name=op.f("uq_action_line_id_mandate_id")),
        sa.UniqueConstraint("mandate_id", "code", name=op.f("uq_action_line_mandate_id_code")),
    )
    op.create_table(
        "measure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mandate_id", sa.Integer(), nullable=False),
        sa.Column("action_line_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["action_line_id", "mandate_id"],
            ["action_line.id", "action_line.mandate_id"],
            name=op.f("fk_measure_action_line_id_mandate_id_action_line"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["mandate_id"],
            ["mandate.id"],
            name=op.f("fk_measure_mandate_id_mandate"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_measure")),
        sa.UniqueConstraint("id", "mandate_id", name=op.f("uq_measure_id_mandate_id")),
        sa.UniqueConstraint("mandate_id", "code", name=op.f("uq_measure_mandate_id_code")),
    )
    with op.batch_alter_table("measure", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_measure_action_line_id"), ["action_line_id"], unique=False
        )

    op.create_table(
        "deliverable",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mandate_id", sa.Integer(), nullable=False),
        sa.Column("measure_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("percent_complete", sa.Float(), nullable=True),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "percent_complete IS NULL OR status = 'in_progress'",
            name=op.f("ck_deliverable_percent_complete_only_in_progress"),
        ),
        sa.CheckConstraint(
            "status IN ('completed', 'in_progress', 'not_started', 'not_achieved', 'cancelled')",
            name=op.f("ck_deliverable_status_vocabulary"),
        ),
        sa.CheckConstraint(
            "percent_complete IS NULL OR (percent_complete >= 0 AND percent_complete <= 100)",
            name=op.f("ck_deliverable_percent_complete_range"),
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_deliverable_version_positive")),
        sa.CheckConstraint("weight >= 0", name=op.f("ck_deliverable_weight_not_negative")),
        sa.ForeignKeyConstraint(
            ["mandate_id"],
            ["mandate.id"],
            name=op.f("fk_deliverable_mandate_id_mandate"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["measure_id", "mandate_id"],
            ["measure.id", "measure.mandate_id"],
            name=op.f("fk_deliverable_measure_id_mandate_id_measure"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliverable")),
        sa.UniqueConstraint("mandate_id", "code", name=op.f("uq_deliverable_mandate_id_code")),
    )
    with op.batch_alter_table("deliverable", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_deliverable_mandate_id_status"), ["mandate_id", "status"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_deliverable_measure_id"), ["measure_id"], unique=False)

    op.create_table(
        "indicator",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mandate_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=2000), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("action_line_id", sa.Integer(), nullable=True),
        sa.Column("measure_id", sa.Integer(), nullable=True),
        sa.Column("baseline_period", sa.String(length=16), nullable=True),
        sa.Column("baseline_value", sa.Float(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "direction IN ('increase', 'decrease', 'maintain')",
            name=op.f("ck_indicator_direction_vocabulary"),
        ),
        sa.CheckConstraint(
            "unit IN ('count', 'percent', 'currency', 'ratio')",
            name=op.f("ck_indicator_unit_vocabulary"),
        ),
        sa.CheckConstraint(
            "(baseline_period IS NULL) = (baseline_value IS NULL)",
            name=op.f("ck_indicator_baseline_complete"),
        ),
        sa.ForeignKeyConstraint(
            ["action_line_id"],
            ["action_line.id"],
            name=op.f("fk_indicator_action_line_id_action_line"),
        ),
        sa.ForeignKeyConstraint(
            ["mandate_id"],
            ["mandate.id"],
            name=op.f("fk_indicator_mandate_id_mandate"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["measure_id"], ["measure.id"], name=op.f("fk_indicator_measure_id_measure")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_indicator")),
        sa.UniqueConstraint("mandate_id", "code", name=op.f("uq_indicator_mandate_id_code")),
    )
    op.create_table(
        "deliverable_tag",
        sa.Column("deliverable_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["deliverable_id"],
            ["deliverable.id"],
            name=op.f("fk_deliverable_tag_deliverable_id_deliverable"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("deliverable_id", "tag", name=op.f("pk_deliverable_tag")),
    )
    with op.batch_alter_table("deliverable_tag", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deliverable_tag_tag"), ["tag"], unique=False)

    op.create_table(
        "indicator_target",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("indicator_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["indicator_id"],
            ["indicator.id"],
            name=op.f("fk_indicator_target_indicator_id_indicator"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_indicator_target")),
        sa.UniqueConstraint(
            "indicator_id", "period", name=op.f("uq_indicator_target_indicator_id_period")
        ),
    )
    op.create_table(
        "indicator_value",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("indicator_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["indicator_id"],
            ["indicator.id"],
            name=op.f("fk_indicator_value_indicator_id_indicator"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_indicator_value")),
    )
    with op.batch_alter_table("indicator_value", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_indicator_value_indicator_id_period_recorded_at"),
            ["indicator_id", "period", "recorded_at"],
            unique=False,
        )

    op.create_table(
        "status_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deliverable_id", sa.Integer(), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("percent_complete", sa.Float(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("evidence_url", sa.Text(), nullable=True),
        sa.Column("changed_by", sa.String(length=200), nullable=False),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "from_status IS NULL OR from_status IN "
            "('completed', 'in_progress', 'not_started', 'not_achieved', 'cancelled')",
            name=op.f("ck_status_change_from_vocabulary"),
        ),
        sa.CheckConstraint(
            "to_status IN ('completed', 'in_progress', 'not_started', 'not_achieved', 'cancelled')",
            name=op.f("ck_status_change_to_vocabulary"),
        ),
        sa.CheckConstraint(
            "percent_complete IS NULL OR (percent_complete >= 0 AND percent_complete <= 100)",
            name=op.f("ck_status_change_percent_complete_range"),
        ),
        sa.ForeignKeyConstraint(
            ["deliverable_id"],
            ["deliverable.id"],
            name=op.f("fk_status_change_deliverable_id_deliverable"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_change")),
    )
    with op.batch_alter_table("status_change", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_status_change_deliverable_id_effective_at"),
            ["deliverable_id", "effective_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_status_change_recorded_at"), ["recorded_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("status_change", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_status_change_recorded_at"))
        batch_op.drop_index(batch_op.f("ix_status_change_deliverable_id_effective_at"))

    op.drop_table("status_change")
    with op.batch_alter_table("indicator_value", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_indicator_value_indicator_id_period_recorded_at"))

    op.drop_table("indicator_value")
    op.drop_table("indicator_target")
    with op.batch_alter_table("deliverable_tag", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deliverable_tag_tag"))

    op.drop_table("deliverable_tag")
    op.drop_table("indicator")
    with op.batch_alter_table("deliverable", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deliverable_measure_id"))
        batch_op.drop_index(batch_op.f("ix_deliverable_mandate_id_status"))

    op.drop_table("deliverable")
    with op.batch_alter_table("measure", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_measure_action_line_id"))

    op.drop_table("measure")
    op.drop_table("action_line")
    op.drop_table("mandate")
    op.drop_table("api_token")
