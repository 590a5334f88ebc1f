"""The schema is built by Alembic alone, and the models agree with it on both databases."""

from datetime import UTC, date, datetime
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import column, create_engine, insert, inspect, table, text

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


def _line_copies(connection: Any) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in connection.execute(text(
        "SELECT deliverable_id, measure_id, action_line_id FROM status_change ORDER BY id"))]


@pytest.mark.parametrize("empty_database_url", BACKENDS, indirect=True)
def test_history_written_before_0007_gets_its_action_line(empty_database_url: str) -> None:
    """Upgrading a database that has history fills each entry's copy of its action line,
    and the new triggers keep it in step; downgrading again keeps 0005's triggers at work
    (SQLite rebuilds the table when it drops the column)."""
    migrate.upgrade(empty_database_url, "0006")
    engine = create_engine(empty_database_url)
    at = datetime(2020, 1, 1, tzinfo=UTC)
    try:
        with engine.begin() as connection:
            connection.execute(insert(metadata.tables["mandate"]), [{
                "id": 1, "code": "M", "title": "M", "start_date": date(2020, 1, 1),
                "end_date": date(2020, 12, 31), "created_at": at, "updated_at": at}])
            connection.execute(insert(metadata.tables["action_line"]), [
                {"id": line, "mandate_id": 1, "code": f"L{line}", "title": "L", "position": 0}
                for line in (1, 2)])
            connection.execute(insert(metadata.tables["measure"]), [
                {"id": measure, "mandate_id": 1, "action_line_id": measure, "code": f"M{measure}",
                 "title": "M", "position": 0} for measure in (1, 2)])
            connection.execute(insert(metadata.tables["deliverable"]), [
                {"id": d, "mandate_id": 1, "measure_id": d, "code": f"D{d}", "title": "D",
                 "status": "completed", "weight": 1.0, "position": 0, "version": 1,
                 "updated_at": at} for d in (1, 2)])
            history = table("status_change", column("deliverable_id"), column("to_status"),
                            column("changed_by"), column("effective_at"), column("recorded_at"))
            connection.execute(insert(history), [
                {"deliverable_id": d, "to_status": "completed", "changed_by": "test",
                 "effective_at": at, "recorded_at": at} for d in (1, 2)])

        migrate.upgrade(empty_database_url)
        with engine.begin() as connection:
            assert _line_copies(connection) == [(1, 1, 1), (2, 2, 2)]
            connection.execute(text("UPDATE measure SET action_line_id = 2 WHERE id = 1"))
            connection.execute(insert(history), [{
                "deliverable_id": 1, "to_status": "completed", "changed_by": "test",
                "effective_at": at, "recorded_at": at}])
            assert _line_copies(connection) == [(1, 1, 2), (2, 2, 2), (1, 1, 2)]

        migrate.downgrade("0006", empty_database_url)
        with engine.begin() as connection:
            connection.execute(text("UPDATE deliverable SET measure_id = 2 WHERE id = 1"))
            measures = [row[0] for row in connection.execute(text(
                "SELECT measure_id FROM status_change WHERE deliverable_id = 1"))]
            assert measures == [2, 2]
    finally:
        engine.dispose()
