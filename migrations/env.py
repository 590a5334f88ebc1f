"""Alembic environment bound to planpulse's model metadata."""

import os

from alembic import context
from sqlalchemy import engine_from_config, pool

from app.models import metadata

config = context.config
target_metadata = metadata

if config.config_file_name is not None and os.environ.get("PLANPULSE_DATABASE_URL"):
    # Run by hand with alembic.ini: the service's own setting wins over the file's default.
    config.set_main_option(
        "sqlalchemy.url", os.environ["PLANPULSE_DATABASE_URL"].replace("%", "%%")
    )


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        _run(connectable)
        return
    engine = engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    if connection.dialect.name == "sqlite":
        # Batch migrations recreate SQLite tables; foreign keys must hold across the copy.
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        connection.commit()  # end the autobegun transaction so Alembic owns the next one
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things in place
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
