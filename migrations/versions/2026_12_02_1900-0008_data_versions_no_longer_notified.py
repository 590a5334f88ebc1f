"""Data versions are no longer announced with NOTIFY.

Each process now reads the versions with a query that begins after the request arrived
(app/version_watch.py), so that a write acknowledged anywhere is seen at once; nothing
listens for 0006's notifications any more. The bump at commit stays.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 19:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNEL = "planpulse_data_version"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS mandate_notify_data_version ON mandate")
    op.execute("DROP FUNCTION IF EXISTS planpulse_notify_data_version()")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"""
        CREATE FUNCTION planpulse_notify_data_version() RETURNS trigger AS $$
        BEGIN
            PERFORM pg_notify('{CHANNEL}', '');
            RETURN NULL;
        END $$ LANGUAGE plpgsql
    """)
    op.execute("""
        CREATE TRIGGER mandate_notify_data_version
        AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mandate
        FOR EACH STATEMENT EXECUTE FUNCTION planpulse_notify_data_version()
    """)
