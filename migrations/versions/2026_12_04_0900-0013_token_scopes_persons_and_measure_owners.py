"""Scoped tokens: a token's scopes (mandates, action lines, measures) and the person it
speaks for; a measure's owner.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Not in batch mode: SQLite would copy the tables, and the triggers that name them break.
    op.add_column("api_token", sa.Column("scopes", sa.JSON(none_as_null=True), nullable=True))
    op.add_column("api_token", sa.Column("person", sa.String(length=200), nullable=True))
    op.add_column("measure", sa.Column("owner", sa.String(length=200), nullable=True))


def downgrade() -> None:
    # SQLite 3.35+ drops a column in place.
    op.drop_column("measure", "owner")
    op.drop_column("api_token", "person")
    op.drop_column("api_token", "scopes")
