"""The schema is built by Alembic alone, and the models agree with it on both databases."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from app import migrate
from app.models import metadata

BACKENDS = ["sqlite", "postgresql"]


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


@pytest.mark.parametrize("empty_database_url", BACKENDS, indirect=True)
def test_upgrade_downgrade_upgrade_round_trip(empty_database_url: str) -> None:
    migrate.upgrade(empty_database_url)
    assert _tables(empty_database_url) == set(metadata.tables)
    migrate.downgrade("base", empty_database_url)
    assert _tables(empty_database_url) == set()
    migrate.upgrade(empty_database_url)
    assert _tables(empty_database_url) == set(metadata.tables)


@pytest.mark.parametrize("empty_database_url", BACKENDS, indirect=True)
def test_models_and_migrations_agree(empty_database_url: str) -> None:
    migrate.upgrade(empty_database_url)
    engine = create_engine(empty_database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "compare_server_default": False})
            differences = compare_metadata(context, metadata)
    finally:
        engine.dispose()
    assert differences == []


@pytest.mark.parametrize("empty_database_url", BACKENDS, indirect=True)
def test_head_is_reported_after_upgrade(empty_database_url: str) -> None:
    migrate.upgrade(empty_database_url)
    engine = create_engine(empty_database_url)
    try:
        assert migrate.current_revision(engine) == migrate.head_revision()
    finally:
        engine.dispose()
