"""Records: members, their engagement per period, the activities; derived indicators.

Engagement and the roll are kept as intervals of transaction time (``recorded_at`` to
``superseded_at``), one row in force per key (partial unique indexes), so that what the
records said at any time can be read back (app/models/records.py).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 11:48:37
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "activity_kind",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=2000), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity_kind")),
        sa.UniqueConstraint("code", name=op.f("uq_activity_kind_code")),
    )
    op.create_table(
        "engagement_kind",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=2000), nullable=False),
        sa.Column("value", sa.String(length=8), nullable=False),
        sa.Column("summed", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("sheet", sa.String(length=64), server_default="engagement", nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "value IN ('flag', 'count', 'label')", name=op.f("ck_engagement_kind_value_vocabulary")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_engagement_kind")),
        sa.UniqueConstraint("code", name=op.f("uq_engagement_kind_code")),
    )
    op.create_table(
        "member",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("full_name", sa.String(length=2000), nullable=True),
        sa.Column("new_in", sa.String(length=16), nullable=True),
        sa.Column("honorary", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member")),
        sa.UniqueConstraint("code", name=op.f("uq_member_code")),
    )
    op.create_table(
        "record_edit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record", sa.String(length=16), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("changed_by", sa.String(length=200), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_edit")),
    )
    with op.batch_alter_table("record_edit", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_record_edit_record_record_id_recorded_at"),
            ["record", "record_id", "recorded_at"],
            unique=False,
        )

    op.create_table(
        "activity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("kind_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=2000), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("location", sa.String(length=200), nullable=True),
        sa.Column("mode", sa.String(length=16), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("speakers_total", sa.Integer(), nullable=True),
        sa.Column("speakers_women", sa.Integer(), nullable=True),
        sa.Column("speakers_men", sa.Integer(), nullable=True),
        sa.Column("participants_total", sa.Integer(), nullable=True),
        sa.Column("participants_women", sa.Integer(), nullable=True),
        sa.Column("participants_men", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "mode IS NULL OR mode IN ('online', 'in_person', 'hybrid')",
            name=op.f("ck_activity_mode_vocabulary"),
        ),
        sa.CheckConstraint(
            "end_date IS NULL OR start_date IS NOT NULL AND end_date >= start_date",
            name=op.f("ck_activity_dates_ordered"),
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_activity_version_positive")),
        sa.ForeignKeyConstraint(
            ["kind_id"], ["activity_kind.id"], name=op.f("fk_activity_kind_id_activity_kind")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity")),
        sa.UniqueConstraint("code", name=op.f("uq_activity_code")),
    )
    with op.batch_alter_table("activity", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_activity_period_kind_id"), ["period", "kind_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_activity_start_date"), ["start_date"], unique=False)

    op.create_table(
        "engagement_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("kind_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=True),
        sa.Column("label", sa.String(length=200), nullable=True),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "amount IS NULL OR label IS NULL", name=op.f("ck_engagement_record_one_value")
        ),
        sa.ForeignKeyConstraint(
            ["kind_id"],
            ["engagement_kind.id"],
            name=op.f("fk_engagement_record_kind_id_engagement_kind"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["member.id"],
            name=op.f("fk_engagement_record_member_id_member"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_engagement_record")),
    )
    with op.batch_alter_table("engagement_record", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_engagement_record_kind_id_period_member_id"),
            ["kind_id", "period", "member_id"],
            unique=True,
            sqlite_where=sa.text("superseded_at IS NULL"),
            postgresql_where=sa.text("superseded_at IS NULL"),
        )
        batch_op.create_index(
            batch_op.f("ix_engagement_record_kind_id_period_recorded_at"),
            ["kind_id", "period", "recorded_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_engagement_record_member_id_period"),
            ["member_id", "period"],
            unique=False,
        )

    op.create_table(
        "roll_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("superseded_by", sa.String(length=200), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["member.id"],
            name=op.f("fk_roll_entry_member_id_member"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roll_entry")),
    )
    with op.batch_alter_table("roll_entry", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_roll_entry_member_id_period_recorded_at"),
            ["member_id", "period", "recorded_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_roll_entry_period_member_id"),
            ["period", "member_id"],
            unique=True,
            sqlite_where=sa.text("superseded_at IS NULL"),
            postgresql_where=sa.text("superseded_at IS NULL"),
        )

    op.create_table(
        "activity_member",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.CheckConstraint(
            "role IN ('organiser', 'speaker', 'leader', 'partner', 'participant')",
            name=op.f("ck_activity_member_role_vocabulary"),
        ),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["activity.id"],
            name=op.f("fk_activity_member_activity_id_activity"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["member.id"],
            name=op.f("fk_activity_member_member_id_member"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity_member")),
        sa.UniqueConstraint(
            "activity_id",
            "member_id",
            "role",
            name=op.f("uq_activity_member_activity_id_member_id_role"),
        ),
    )
    with op.batch_alter_table("activity_member", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_activity_member_member_id"), ["member_id"], unique=False
        )

    op.create_table(
        "activity_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("mandate_id", sa.Integer(), nullable=False),
        sa.Column("action_line_id", sa.Integer(), nullable=True),
        sa.Column("measure_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["action_line_id"],
            ["action_line.id"],
            name=op.f("fk_activity_link_action_line_id_action_line"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["activity.id"],
            name=op.f("fk_activity_link_activity_id_activity"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["mandate_id"],
            ["mandate.id"],
            name=op.f("fk_activity_link_mandate_id_mandate"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["measure_id"],
            ["measure.id"],
            name=op.f("fk_activity_link_measure_id_measure"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity_link")),
    )
    with op.batch_alter_table("activity_link", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_activity_link_activity_id"), ["activity_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_activity_link_mandate_id"), ["mandate_id"], unique=False
        )

    with op.batch_alter_table("indicator", schema=None) as batch_op:
        batch_op.add_column(sa.Column("derived", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("indicator", schema=None) as batch_op:
        batch_op.drop_column("derived")

    with op.batch_alter_table("activity_link", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_activity_link_mandate_id"))
        batch_op.drop_index(batch_op.f("ix_activity_link_activity_id"))

    op.drop_table("activity_link")
    with op.batch_alter_table("activity_member", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_activity_member_member_id"))

    op.drop_table("activity_member")
    with op.batch_alter_table("roll_entry", schema=None) as batch_op:
        batch_op.drop_index(
            batch_op.f("ix_roll_entry_period_member_id"),
            sqlite_where=sa.text("superseded_at IS NULL"),
            postgresql_where=sa.text("superseded_at IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_roll_entry_member_id_period_recorded_at"))

    op.drop_table("roll_entry")
    with op.batch_alter_table("engagement_record", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_engagement_record_member_id_period"))
        batch_op.drop_index(batch_op.f("ix_engagement_record_kind_id_period_recorded_at"))
        batch_op.drop_index(
            batch_op.f("ix_engagement_record_kind_id_period_member_id"),
            sqlite_where=sa.text("superseded_at IS NULL"),
            postgresql_where=sa.text("superseded_at IS NULL"),
        )

    op.drop_table("engagement_record")
    with op.batch_alter_table("activity", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_activity_start_date"))
        batch_op.drop_index(batch_op.f("ix_activity_period_kind_id"))

    op.drop_table("activity")
    with op.batch_alter_table("record_edit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_record_edit_record_record_id_recorded_at"))

    op.drop_table("record_edit")
    op.drop_table("member")
    op.drop_table("engagement_kind")
    op.drop_table("activity_kind")
