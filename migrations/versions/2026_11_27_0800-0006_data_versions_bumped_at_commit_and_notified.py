"""Data versions bumped by the database at commit, and announced with NOTIFY.

``data_version_bump``: a write inserts the mandates whose data version it bumps; a trigger
carries the bump out and deletes the row. On PostgreSQL the trigger is a deferred
constraint trigger, run at COMMIT: the mandate row's lock, which every writer to the
mandate queues on, is held for the commit alone instead of across the application's round
trips. On SQLite (one writer at a time) it runs at once.

PostgreSQL also NOTIFYs ``planpulse_data_version`` whenever a mandate row changes, which
tells each app process (app/version_watch.py) that the versions it remembers may be stale,
whatever process or tool made the change. One notification per statement, delivered at
commit, duplicates within a transaction folded. SQLite processes read
``PRAGMA data_version`` instead.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNEL = "planpulse_data_version"

TRIGGERS = {
    "postgresql": [
        """
        CREATE FUNCTION planpulse_bump_data_version() RETURNS trigger AS $$
        BEGIN
            UPDATE mandate SET data_version = data_version + 1 WHERE id = NEW.mandate_id;
            DELETE FROM data_version_bump WHERE id = NEW.id;
            RETURN NULL;
        END $$ LANGUAGE plpgsql
        """,
        """
        CREATE CONSTRAINT TRIGGER data_version_bump_at_commit
        AFTER INSERT ON data_version_bump DEFERRABLE INITIALLY DEFERRED
        FOR EACH ROW EXECUTE FUNCTION planpulse_bump_data_version()
        """,
        f"""
        CREATE FUNCTION planpulse_notify_data_version() RETURNS trigger AS $$
        BEGIN
            PERFORM pg_notify('{CHANNEL}', '');
            RETURN NULL;
        END $$ LANGUAGE plpgsql
        """,
        """
        CREATE TRIGGER mandate_notify_data_version
        AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mandate
        FOR EACH STATEMENT EXECUTE FUNCTION planpulse_notify_data_version()
        """,
    ],
    "sqlite": [
        """
        CREATE TRIGGER data_version_bump_now AFTER INSERT ON data_version_bump
        BEGIN
            UPDATE mandate SET data_version = data_version + 1 WHERE id = NEW.mandate_id;
            DELETE FROM data_version_bump WHERE id = NEW.id;
        END
        """,
    ],
}

DROP_TRIGGERS = {
    "postgresql": [
        "DROP TRIGGER IF EXISTS mandate_notify_data_version ON mandate",
        "DROP FUNCTION IF EXISTS planpulse_notify_data_version()",
        "DROP TRIGGER IF EXISTS data_version_bump_at_commit ON data_version_bump",
        "DROP FUNCTION IF EXISTS planpulse_bump_data_version()",
    ],
    "sqlite": ["DROP TRIGGER IF EXISTS data_version_bump_now"],
}


def upgrade() -> None:
    op.create_table(
        "data_version_bump",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mandate_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_version_bump")),
    )
    for statement in TRIGGERS[op.get_bind().dialect.name]:
        op.execute(statement)


def downgrade() -> None:
    for statement in DROP_TRIGGERS[op.get_bind().dialect.name]:
        op.execute(statement)
    op.drop_table("data_version_bump")
